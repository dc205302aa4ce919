"""Tell people from machines: crawlers and link-preview fetchers (Slack, WhatsApp, Facebook…)
count as bots, which are recorded but do not use up a link's max_visits."""

from __future__ import annotations

from functools import lru_cache

from crawlerdetect import CrawlerDetect

_detector = CrawlerDetect()


# User-Agents longer than this are judged afresh each time instead of memoised: the memo is keyed
# by what the client sends, so its bytes are bounded by bounding its keys (4096 x 512 B = 2 MiB).
_MEMO_KEY_MAX = 512


def is_bot(user_agent: str) -> bool:
    if len(user_agent) > _MEMO_KEY_MAX:
        return _judge(user_agent)
    return _judge_memo(user_agent)


def _judge(user_agent: str) -> bool:
    # No User-Agent at all is a script, never a browser.
    return not user_agent.strip() or bool(_detector.isCrawler(user_agent))


_judge_memo = lru_cache(maxsize=4096)(_judge)
