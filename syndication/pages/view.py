"""What the public pages show, worked out apart from Flask: language direction, local dates,
feed links, the channels that show a story, Open Graph tags and the JSON-LD of a story.

Everything here takes settings and model objects and returns plain values for the templates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import langcodes
from markupsafe import Markup
from sqlalchemy.orm import Session

from feeds.text import split_mailbox
from feeds.uri import to_uri
from syndication.channels.pages import feed_url
from syndication.channels.service import list_channels
from syndication.config import Settings
from syndication.filters import StoryFilter, story_terms
from syndication.i18n import local_time, ui_locale
from syndication.links.service import qr_url, short_url, story_link
from syndication.models import Channel, Story
from syndication.stories.schema import page_url

# Languages written right to left by default (ISO 639 primary subtags). A script subtag, when a
# tag has one, decides instead: "az-Arab" is right to left, "ku-Latn" and "uz" are not.
RTL_LANGUAGES = frozenset(
    {
        "ar", "arc", "arz", "ary", "arq", "aeb", "acm", "afb", "ajp", "apc", "apd", "ars",
        "ayl", "acw", "acx", "ckb", "dv", "fa", "prs", "pes", "glk", "he", "iw", "ji", "yi",
        "khw", "ks", "lrc", "mzn", "nqo", "pnb", "ps", "pbt", "pbu", "sd", "skr", "syr", "ug",
        "ur", "azb", "bal", "bqi", "sdh", "jpr", "jrb", "bgn", "hnd", "shu", "ssh", "ota",
    }
)  # fmt: skip
RTL_SCRIPTS = frozenset(
    {
        "adlm", "arab", "aran", "armi", "avst", "chrs", "cprt", "elym", "hatr", "hebr", "hung",
        "khar", "lydi", "mand", "mani", "mend", "merc", "mero", "narb", "nbat", "nkoo", "orkh",
        "palm", "phli", "phlp", "phnx", "prti", "rohg", "samr", "sarb", "sogd", "sogo", "syrc",
        "thaa", "yezi",
    }
)  # fmt: skip
_SCRIPT = re.compile(r"[A-Za-z]{4}")
FEED_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
FEED_NAMES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}


def is_rtl(lang: str | None) -> bool:
    """True when text in this BCP 47 language tag runs right to left."""
    if not lang:
        return False
    subtags = [s for s in re.split(r"[-_]", lang.strip()) if s]
    if not subtags:
        return False
    # language[-extlang]-Script: the script comes right after the language and its extlangs.
    for sub in subtags[1:]:
        if _SCRIPT.fullmatch(sub):
            return sub.lower() in RTL_SCRIPTS
        if not (len(sub) == 3 and sub.isalpha()):  # not an extlang: no script in this tag
            break
    return subtags[0].lower() in RTL_LANGUAGES


def og_locale(lang: str) -> str | None:
    """Open Graph's language_TERRITORY form (ar -> ar_EG, en-GB -> en_GB), None if unknown."""
    try:
        tag = langcodes.Language.get(lang)
        if not tag.territory:
            tag = tag.maximize()
    except (ValueError, LookupError):
        return None
    if not tag.language or not tag.territory:
        return None
    return f"{tag.language}_{tag.territory}"


def iso_utc(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def site_name(settings: Settings) -> str:
    """The site's name: the `site_name` setting, else "Syndication" (config.DEFAULT_SITE_NAME)."""
    return settings.publication_name


def accent_css(settings: Settings) -> str:
    """The stylesheet that carries `site_accent` as the --site-accent custom property.

    A stylesheet of its own rather than a style attribute or element: pages keep working under a
    Content-Security-Policy without 'unsafe-inline'. The colour was checked as #rgb / #rrggbb
    (config), so it cannot close the rule or open another."""
    if not settings.site_accent:
        return ""
    return f":root {{ --site-accent: {settings.site_accent}; }}\n"


def publisher_ld(settings: Settings) -> dict[str, Any]:
    """schema.org Organization of the site: the publisher of every story page."""
    org: dict[str, Any] = {
        "@type": "Organization",
        "name": site_name(settings),
        "url": f"{settings.base_url}/",
    }
    if settings.logo_url:
        org["logo"] = {"@type": "ImageObject", "url": settings.logo_url}
    return org


def script_json(data: Any) -> Markup:
    """JSON for a <script> element: '<', '>' and '&' escaped, so no string can close it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    # U+2028/2029 are valid JSON but end lines in older JavaScript parsers.
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


@dataclass(frozen=True)
class FeedLink:
    fmt: str
    href: str
    type: str
    title: str
    name: str  # "RSS", "Atom", "JSON Feed"


def channel_feeds(settings: Settings, channel: Channel) -> list[FeedLink]:
    return [
        FeedLink(
            fmt=fmt,
            href=feed_url(settings, channel.slug, fmt),
            type=FEED_TYPES[fmt],
            title=f"{channel.title} ({FEED_NAMES[fmt]})",
            name=FEED_NAMES[fmt],
        )
        for fmt in channel.formats
        if fmt in FEED_TYPES
    ]


def channel_url(settings: Settings, slug: str) -> str:
    return f"{settings.base_url}/channels/{slug}"


def channels_showing(session: Session, story: Story) -> list[Channel]:
    """The channels whose filter matches the story (the same rule as their feeds)."""
    terms = story_terms(
        section=story.section,
        tags=story.tags or [],
        language=story.language,
        source=story.source,
        authors=story.authors or [],
    )
    return [c for c in list_channels(session) if StoryFilter.from_dict(c.filter).matches(terms)]


def canonical_url(settings: Settings, story: Story) -> str:
    """The story's canonical URL as a URI (stored as given, which may be an IRI)."""
    return to_uri(story.url) if story.url else page_url(settings, story.code)


def story_view(session: Session, settings: Settings, story: Story) -> dict[str, Any]:
    """Everything the story page shows, as template values."""
    lang = story.language or settings.default_language
    ui = ui_locale(lang, settings.default_language)
    canonical = canonical_url(settings, story)
    published = story.published_at or story.updated_at
    modified = max(story.updated_at, published)
    link = story_link(session, story.id)
    news_link = short_url(settings, link.code) if link and link.deleted_at is None else None
    qr = qr_url(settings, link.code, "svg") if news_link and link else None
    image = story.image if story.image and story.image.get("url") else None
    if image:
        image = {**image, "url": to_uri(image["url"])}
    site = site_name(settings)
    channels = channels_showing(session, story)
    alternates = [feed for channel in channels for feed in channel_feeds(settings, channel)]

    og: list[tuple[str, str]] = [
        ("og:type", "article"),
        ("og:title", story.title),
        ("og:url", canonical),
        ("og:site_name", site),
    ]
    if story.summary:
        og.append(("og:description", story.summary))
    locale = og_locale(lang)
    if locale:
        og.append(("og:locale", locale))
    if image:
        og.append(("og:image", image["url"]))
        if image.get("type"):
            og.append(("og:image:type", image["type"]))
        for key in ("width", "height"):
            if image.get(key):
                og.append((f"og:image:{key}", str(image[key])))
        og.append(("og:image:alt", image.get("caption") or story.title))
    og.append(("article:published_time", iso_utc(published)))
    og.append(("article:modified_time", iso_utc(modified)))
    if story.section:
        og.append(("article:section", story.section))
    og.extend(("article:tag", tag) for tag in story.tags or [])

    ld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": story.title,
        "url": canonical,
        "mainEntityOfPage": {"@type": "WebPage", "@id": canonical},
        "identifier": story.code,
        "inLanguage": lang,
        "datePublished": iso_utc(published),
        "dateModified": iso_utc(modified),
        # The revision partners receive (json `revision`, ninjs `version`): one version everywhere.
        "version": str(story.revision),
        # The site publishes; the story's source (a wire agency, a partner) is where it came from.
        "publisher": publisher_ld(settings),
    }
    if story.source:
        ld["sourceOrganization"] = {"@type": "Organization", "name": story.source}
    if story.summary:
        ld["description"] = story.summary
    if story.authors:
        # Names only (stories stored before authors were cleaned may hold "Name <address>").
        ld["author"] = [
            {"@type": "Person", "name": split_mailbox(name)[0]} for name in story.authors
        ]
    if image:
        image_ld: dict[str, Any] = {"@type": "ImageObject", "url": image["url"]}
        for key in ("width", "height"):
            if image.get(key):
                image_ld[key] = image[key]
        if image.get("caption"):
            image_ld["caption"] = image["caption"]
        ld["image"] = [image_ld]
    if story.section:
        ld["articleSection"] = story.section
    if story.tags:
        ld["keywords"] = list(story.tags)

    return {
        "story": story,
        "lang": lang,
        "rtl": is_rtl(lang),
        "canonical": canonical,
        "authors": [split_mailbox(name)[0] for name in story.authors or []],
        "published": local_time(published, settings.tz, ui),
        "modified": local_time(modified, settings.tz, ui) if modified > published else None,
        "image": image,
        "news_link": news_link,
        "qr_src": qr,
        "channels": [(c, channel_url(settings, c.slug)) for c in channels],
        "alternates": alternates,
        "og": og,
        "json_ld": script_json(ld),
        "page_title": story.title,
        "description": story.summary or None,
        "corrections": [
            {"text": c["text"], "at": local_time(datetime.fromisoformat(c["at"]), settings.tz, ui)}
            for c in reversed(story.corrections or [])  # stored oldest first; shown newest first
        ],
    }
