"""The web admin under /admin: server-rendered pages over the stories, channels, links and auth
services (routes.py), form parsing (forms.py), dashboard queries (queries.py) and the visits
chart drawn as SVG on the server (charts.py)."""
