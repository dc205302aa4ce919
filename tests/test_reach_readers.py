"""reach.readers: real User-Agent strings of feed readers, read into (reader, stated count,
feed id), or passed over as crawlers. Strings as the services document them or as publishers
logged them (Buttondown's reader table, FeedPress's fetcher guide, goaccess and feedbin issues,
Miniflux's source)."""

from __future__ import annotations

import pytest

from syndication.reach.readers import UA_MAX, Reader, identify

CASES = [
    # Readers that state a count.
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 42 subscribers; )", Reader("Feedly", 42)),
    ("Feedly/1.0 (+https://feedly.com/fetcher.html; 1 subscriber)", Reader("Feedly", 1)),
    ("Mozilla/5.0 (compatible; inoreader.com; 114 subscribers)", Reader("Inoreader", 114)),
    (
        "NewsBlur Feed Fetcher - 27 subscribers - https://www.newsblur.com/site/7704055/"
        'rendezvous-with-cassidoo ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) '
        'AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.1 Safari/605.1.15")',
        Reader("NewsBlur", 27, "7704055"),
    ),
    ("Feedbin feed-id:1697787 - 102 subscribers", Reader("Feedbin", 102, "1697787")),
    (
        "Mozilla/5.0 (compatible; theoldreader.com; 1 subscribers; "
        "feed-id=cead6c3a837650eeefd8fe4a)",
        Reader("The Old Reader", 1, "cead6c3a837650eeefd8fe4a"),
    ),
    (
        "Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 1 subscribers)",
        Reader("BazQux", 1),
    ),
    (
        "Netvibes (http://www.netvibes.com/; 105 subscribers; feedID: 33718936)",
        Reader("Netvibes", 105, "33718936"),
    ),
    (
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 16 subscribers; "
        "feed-id=12310981209483785)",
        Reader("Feedfetcher-Google", 16, "12310981209483785"),
    ),
    (
        "Dreamwidth Studios (webmaster@dreamwidth.org; for "
        "https://www.dreamwidth.org/users/vikingschoice_feed/; 2 readers)",
        Reader("Dreamwidth", 2),
    ),
    (
        "PlainFeeder v0.0.1 (+http://plainfeeder.com/about ; Subscriber Count: 12)",
        Reader("PlainFeeder", 12),
    ),
    # An unknown service that follows the convention counts under its own name.
    (
        "NewsGatorOnline/2.0 (http://www.newsgator.com; 79 subscribers)",
        Reader("NewsGatorOnline", 79),
    ),
    ("Bloglines/2.0 (http://www.bloglines.com; 810 subscribers)", Reader("Bloglines", 810)),
    # Readers that state none: one client each.
    ("Mozilla/5.0 (compatible; Miniflux/2.1.0; +https://miniflux.app)", Reader("Miniflux", None)),
    (
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
        Reader("Feedly", None),
    ),
    ("Mozilla/5.0 (compatible; theoldreader.com)", Reader("The Old Reader", None)),
    ("NetNewsWire (RSS Reader; https://netnewswire.com/)", Reader("NetNewsWire", None)),
    ("Reeder/5050001 CFNetwork/1494.0.7 Darwin/23.4.0", Reader("Reeder", None)),
    ("FreshRSS/1.23.1 (Linux; https://freshrss.org)", Reader("FreshRSS", None)),
    ("Tiny Tiny RSS/23.04 (https://tt-rss.org/)", Reader("Tiny Tiny RSS", None)),
    (
        "Feedspot/1.0 (+https://www.feedspot.com/fs/fetcher; like FeedFetcher-Google)",
        Reader("Feedspot", None),
    ),
    ("newsboat/2.36.0 (Linux x86_64)", Reader("Newsboat", None)),
    ("curl/8.5.0", Reader("curl", None)),
    ("python-requests/2.32.3", Reader("python-requests", None)),
    ("feedparser/6.0.11 +https://github.com/kurtmckee/feedparser/", Reader("feedparser", None)),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        Reader("web browser", None),
    ),
    # Hostile: a "name" that a spreadsheet would run is kept as text (the CSV export escapes it).
    ("=cmd|' /C calc'!A0", Reader("=cmd|'", None)),
    ("\x00\x1bfeedly\r\n 7 subscribers", Reader("Feedly", 7)),
    # A count beyond nine digits is made up: not a stated count.
    (
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 99999999999 subscribers)",
        Reader("Feedly", None),
    ),
]


@pytest.mark.parametrize(("ua", "expected"), CASES, ids=[c[1].name for c in CASES])
def test_reader_of_a_user_agent(ua, expected):
    assert identify(ua) == expected


@pytest.mark.parametrize(
    "ua",
    [
        "",
        "   ",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)",
        # A crawler claiming subscribers is still a crawler.
        "Googlebot/2.1 (+http://www.google.com/bot.html; 5000 subscribers)",
    ],
)
def test_crawlers_that_are_no_readers_are_not_counted(ua):
    assert identify(ua) is None


def test_an_oversized_user_agent_is_read_only_up_to_its_bound():
    """Bounded work: the count must lie in the first UA_MAX characters."""
    assert identify("x" * (UA_MAX - 20) + " 3 subscribers; " + "y" * 10_000) == Reader("x" * 64, 3)
    assert identify("x" * UA_MAX + " 3 subscribers").subscribers is None
