"""IPTC ninjs 2.1 (News in JSON) for the `ninjs` payload format of partner webhooks.

Maps an event's story snapshot (the API story schema) to a ninjs 2.1 news item, valid against
https://www.iptc.org/std/ninjs/ninjs-schema_2.1.json (vendored for the tests in
tests/data/ninjs-2.x.schema.json):

- uri: the story page URL; type "text"; version: the revision as a string
- firstcreated / versioncreated: first published / last updated; contentcreated (also the
  published time; the story's own creation time is not in the snapshot)
- pubstatus: "usable", "canceled" for a retracted or killed story (a killed one carries no
  content at all: its snapshot is the tombstone) (a draft or scheduled story never
  reaches a subscriber; it would be "withheld")
- headlines, descriptions (the summary, plain text), bodies (the sanitised HTML)
- corrections: more descriptions, role "correction", plain text, newest first. Not `ednote`:
  ninjs defines that as a note for the receiver's staff, "not intended to be published", and a
  single string; a correction is public and there may be several. A ninjs description has no
  date of its own: each correction's time is in the json format (`corrections[].at`); the
  latest one is the item's versioncreated.
- subjects: the section (rel "section") and tags (rel "tag"); people: the authors (rel
  "author"), `by` the byline; infosources: the source
- associations: the image as a "picture" item with one rendition
- altids: our Story Code (role "story-code") and the canonical URL (role "canonical-url")
- embargoed (story.embargoed): the publish_at before which nothing of it may be shown; such
  an item is "withheld" until its story.published

Properties with no value are left out rather than sent empty or null (the schema has no nulls).
"""

from __future__ import annotations

from typing import Any

STANDARD = {
    "name": "ninjs",
    "version": "2.1",
    "schema": "https://www.iptc.org/std/ninjs/ninjs-schema_2.1.json",
}
PUBSTATUS = {"published": "usable", "retracted": "canceled", "killed": "canceled"}


def to_ninjs(story: dict[str, Any]) -> dict[str, Any]:
    """The story snapshot `story` as a ninjs 2.1 item."""
    code = str(story.get("code") or "")
    page_url = story.get("page_url") or story.get("url") or ""
    item: dict[str, Any] = {
        "uri": page_url,
        "standard": dict(STANDARD),
        "type": "text",
        "representationtype": "full",
        "version": str(story.get("revision") or 1),
        "pubstatus": PUBSTATUS.get(str(story.get("status")), "withheld"),
    }
    published = story.get("published_at")
    if published:
        item["firstcreated"] = published
        item["contentcreated"] = published
    if story.get("updated_at"):
        item["versioncreated"] = story["updated_at"]
    if story.get("embargoed"):
        item["embargoed"] = story["embargoed"]
    if story.get("language"):
        item["language"] = story["language"]
    if story.get("title"):
        item["headlines"] = [{"role": "main", "value": story["title"]}]
    descriptions = []
    if story.get("summary"):
        descriptions.append(
            {"role": "summary", "contenttype": "text/plain", "value": story["summary"]}
        )
    for correction in reversed(story.get("corrections") or []):
        if isinstance(correction, dict) and correction.get("text"):
            descriptions.append(
                {"role": "correction", "contenttype": "text/plain", "value": correction["text"]}
            )
    if descriptions:
        item["descriptions"] = descriptions
    if story.get("body_html"):
        item["bodies"] = [{"role": "main", "contenttype": "text/html", "value": story["body_html"]}]
    subjects = []
    if story.get("section"):
        subjects.append({"name": story["section"], "rel": "section"})
    subjects += [{"name": tag, "rel": "tag"} for tag in story.get("tags") or [] if tag]
    if subjects:
        item["subjects"] = subjects
    authors = [a for a in story.get("authors") or [] if a]
    if authors:
        item["people"] = [{"name": name, "rel": "author"} for name in authors]
        item["by"] = ", ".join(authors)
    if story.get("source"):
        item["infosources"] = [{"name": story["source"], "role": "source"}]
    altids = [{"role": "story-code", "value": code}]
    if story.get("url") and story.get("url") != page_url:
        altids.append({"role": "canonical-url", "value": story["url"]})
    item["altids"] = altids
    picture = _picture(story.get("image"))
    if picture:
        item["associations"] = [picture]
    return item


def _picture(image: Any) -> dict[str, Any] | None:
    if not isinstance(image, dict) or not image.get("url"):
        return None
    rendition: dict[str, Any] = {"name": "original", "href": image["url"]}
    if image.get("type"):
        rendition["contenttype"] = image["type"]
    for ours, theirs in (("width", "width"), ("height", "height"), ("length", "sizeinbytes")):
        if isinstance(image.get(ours), int) and not isinstance(image.get(ours), bool):
            rendition[theirs] = image[ours]
    picture: dict[str, Any] = {
        "name": "image",
        "uri": image["url"],
        "type": "picture",
        "renditions": [rendition],
    }
    if image.get("caption"):
        picture["descriptions"] = [
            {"role": "caption", "contenttype": "text/plain", "value": image["caption"]}
        ]
    return picture


def killed_ninjs(killed: dict[str, Any]) -> dict[str, Any]:
    """A story.killed (code, version, reason, page_url) as a canceled ninjs item: no content."""
    item: dict[str, Any] = {
        "uri": killed.get("page_url") or "",
        "standard": dict(STANDARD),
        "type": "text",
        "version": str(killed.get("version") or 1),
        "pubstatus": "canceled",
        "altids": [{"role": "story-code", "value": str(killed.get("code") or "")}],
    }
    if killed.get("reason"):
        item["ednote"] = str(killed["reason"])
    return item
