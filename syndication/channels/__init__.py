"""Channels: a filter over stories, published as RSS 2.0, Atom 1.0 and JSON Feed 1.1."""
