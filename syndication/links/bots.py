"""Tell people from machines: crawlers and link-preview fetchers (Slack, WhatsApp, Facebook…)
count as bots, which are recorded but do not use up a link's max_visits."""

from __future__ import annotations

from functools import lru_cache

from crawlerdetect import CrawlerDetect

_detector = CrawlerDetect()


@lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    # No User-Agent at all is a script, never a browser.
    return not user_agent.strip() or bool(_detector.isCrawler(user_agent))
