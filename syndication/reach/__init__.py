"""Reach: how many readers a channel has (feed subscribers, WebSub subscribers) and how far a
story went (partner deliveries, News Link clicks and QR scans). readers.py reads user agents,
buffer.py counts feed requests off the request path, service.py answers the questions."""
