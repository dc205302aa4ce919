"""Sitemaps and robots.txt: how crawlers find the story pages."""
