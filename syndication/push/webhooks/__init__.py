"""Partner webhooks: the `webhook` transmitter (Standard Webhooks signing, json / ninjs
payloads), its signing and its payload formats."""
