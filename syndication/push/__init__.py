"""Push: the outbox of story events, subscribers, and deliveries to them (signed webhooks)."""
