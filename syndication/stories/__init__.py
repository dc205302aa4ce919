"""Stories: validation, storage and the status life cycle (draft, scheduled, published, retracted)."""
