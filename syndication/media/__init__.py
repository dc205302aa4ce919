"""Uploaded images: checked and cleaned by Pillow (images.py), kept content-addressed on disk
(store.py), served publicly with immutable cache headers (routes.py)."""
