"""Push: the outbox of story events (outbox.py), the delivery queue (queue.py), one delivery
engine (engine.py) and the transmitters it drives by kind (transmitter.py; webhooks/, websub/),
the WebSub hub (websub/), webhook subscribers' administration (subscribers.py), the process's
push context (context.py), the cross-process wake-up (wake.py) and retention (retention.py)."""
