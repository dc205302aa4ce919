"""The partner portal (/portal/): partners manage their own webhook endpoints."""
