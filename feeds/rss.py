"""RSS 2.0 through feedgen, tuned to pass the W3C Feed Validation Service without warnings."""

from __future__ import annotations

from html import escape

from feedgen.feed import FeedGenerator

from feeds import _fgext
from feeds._common import build_clean, hex_refs, image_type, media_attrs, printable
from feeds.corrections import item_content
from feeds.model import Feed

__all__ = ["render_rss"]


def render_rss(feed: Feed) -> bytes:
    """RSS 2.0 document (UTF-8 bytes) for ``feed``."""
    return build_clean(_build, printable(feed))


def _build(feed: Feed) -> bytes:
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False)
    # feedgen's media extension, with the image caption (feeds/_fgext.py)
    fg.register_extension(
        "media", _fgext.MediaExtension, _fgext.MediaEntryExtension, atom=False, rss=True
    )
    # Channel level only: no per-entry part, so no per-entry cost.
    fg.register_extension(_fgext.NAME, _fgext.SynExtension, None, atom=False, rss=True)

    fg.title(feed.title)
    # RSS requires a non-empty channel description.
    fg.description(feed.description or feed.title)
    fg.link(href=feed.self_url, rel="self", type="application/rss+xml")
    # feedgen's channel <link> is whichever link() came last: the home page must be last.
    fg.link(href=feed.link, rel="alternate")
    extra_links = fg.syn.rss_links
    if feed.hub_url:
        extra_links.append(("hub", feed.hub_url))
    if feed.first_url:
        extra_links.append(("first", feed.first_url))
    if feed.next_url:
        extra_links.append(("next", feed.next_url))
    fg.lastBuildDate(feed.updated)
    fg.generator(feed.generator)
    if feed.language:
        fg.language(feed.language)
    if feed.ttl is not None:
        fg.ttl(feed.ttl)
    if feed.copyright:
        fg.copyright(feed.copyright)
    if feed.logo:
        # The validator wants the image's title and link to match the channel's.
        fg.image(url=feed.logo, title=feed.title, link=feed.link)
    if feed.author is not None and feed.author.email:
        # managingEditor must be an e-mail address, "addr (Name)" by convention.
        fg.managingEditor(f"{feed.author.email} ({feed.author.name})")

    for item in feed.items:
        fe = fg.add_entry(order="append")
        fe.title(item.title)
        fe.link(href=item.url)
        fe.guid(item.id, permalink=True)
        fe.pubDate(item.published)
        if item.summary:
            # <description> is HTML to every reader; the summary is plain text.
            fe.description(escape(item.summary, quote=False))
        content = item_content(item)
        if content is not None:
            # With a description set, feedgen writes this as content:encoded, else as the
            # description. CDATA: a story body escaped would be bigger and slower to write.
            fe.content(content, type="CDATA")
        # RSS <author> must be an e-mail address; names (only: printable() took any address
        # out) go in dc:creator. Items without authors were given the feed's by printable().
        creators = [a.name for a in item.authors]
        if creators:
            fe.dc.dc_creator(creators)
        if item.language:
            fe.dc.dc_language(item.language)
        for category in item.categories:
            fe.category(term=category)
        image = item.image
        if image is not None:
            mime = image_type(image)
            if mime:
                # RSS requires length; the validator asks for 0 when it is unknown.
                fe.enclosure(image.url, str(image.length or 0), mime)
            media, thumb = media_attrs(image, mime)
            fe.media.content(media)
            fe.media.thumbnail(thumb)
            fe.media.caption = image.caption
    return hex_refs(fg.rss_str())
