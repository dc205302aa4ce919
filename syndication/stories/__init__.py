"""Stories: validation, storage and the life cycle (draft, scheduled, published, retracted)."""
