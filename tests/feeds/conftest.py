"""Fixtures for the feeds tests; the sample data lives in feed_samples."""

from __future__ import annotations

import pytest

from feeds import Feed

from .feed_samples import hostile_feed, plain_feed


@pytest.fixture
def hostile() -> Feed:
    return hostile_feed()


@pytest.fixture
def plain() -> Feed:
    return plain_feed()
