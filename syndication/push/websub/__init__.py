"""The WebSub hub: `POST /hub` (hub.py, routes.py), verification of intent and lease expiry
(verify.py), and the `websub` transmitter that distributes topic documents (transmitter.py)."""
