"""The story schema: what a story record may hold, and its validation into clean values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from feeds.html import CleanHtml, HtmlTooDeep, clean_html
from syndication import validation as v
from syndication.config import Settings
from syndication.errors import ValidationError
from syndication.media.store import MediaStore, name_of_url

STATUSES = ("draft", "scheduled", "published", "retracted")
# Set only by a takedown (stories/kill.py), never by input: listed and filtered on, not written.
KILLED = "killed"
# A change to any of these is a new revision; status and dates are not content.
CONTENT_FIELDS = (
    "title",
    "summary",
    "body_html",
    "url",
    "authors",
    "source",
    "section",
    "tags",
    "language",
    "image",
)
WRITABLE = CONTENT_FIELDS + ("code", "external_id", "status", "publish_at", "published_at")
# Present in exports of the API; accepted on input and ignored, so an export re-imports as is.
READ_ONLY = frozenset(
    {
        "id",
        "updated_at",
        "created_at",
        "revision",
        "page_url",
        "short_url",
        "qr_svg",
        "qr_png",
        "corrections",
    }
)
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MIME_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$", re.I)
IMAGE_KEYS = ("url", "caption", "type", "length", "width", "height")


def page_url(settings: Settings, code: str) -> str:
    """The story's permanent page: its guid in every feed, whatever its canonical URL."""
    return f"{settings.base_url}/stories/{code}"


def _code(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not CODE_RE.match(value.strip()):
        raise ValueError(
            "must be 1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value.strip()


def _status(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if value not in STATUSES:
        raise ValueError(f"must be one of {', '.join(STATUSES)}; got {value!r}")
    return str(value)


def _image(value: Any, errors: v.FieldErrors, settings: Settings) -> dict[str, Any] | None:
    if value is None or value == {} or value == "":
        return None
    if isinstance(value, str):  # a bare URL is a common shorthand
        value = {"url": value}
    if not isinstance(value, Mapping):
        errors.errors["image"] = "must be an object with at least a url"
        return None
    unknown = set(value) - set(IMAGE_KEYS)
    if unknown:
        errors.errors["image"] = f"unknown keys: {', '.join(sorted(unknown))}"
        return None
    image: dict[str, Any] = {
        "url": errors.check("image.url", v.http_url, value.get("url"), required=True)
    }
    caption = errors.check("image.caption", v.optional_text, value.get("caption"), max_len=1000)
    mime = value.get("type")
    if mime not in (None, ""):
        if not isinstance(mime, str) or not MIME_RE.match(mime.strip()):
            errors.errors["image.type"] = f"is not a MIME type: {mime!r}"
        else:
            image["type"] = mime.strip().lower()
    if caption:
        image["caption"] = caption
    for key in ("length", "width", "height"):
        number = errors.check(f"image.{key}", v.non_negative_int, value.get(key))
        if number is not None:
            image[key] = number
    if image["url"] and "image" not in errors.errors:
        _uploaded_facts(image, errors, settings)
    return image


def _uploaded_facts(image: dict[str, Any], errors: v.FieldErrors, settings: Settings) -> None:
    """An image uploaded to this service: its type, size and dimensions are known, so they
    are taken from the stored file (whatever was typed); a URL of the media space that names
    no stored file is refused, as it would show a broken image. Remote URLs are left as given."""
    name = name_of_url(settings, image["url"])
    if name is None:
        return
    media = MediaStore.from_settings(settings).get(name) if name else None
    if media is None:
        errors.errors["image.url"] = "names no uploaded image of this service (upload it first)"
        return
    image.update(media.as_image(settings))


def clean_story(data: Any, settings: Settings, *, partial: bool = False) -> dict[str, Any]:
    """Validate a story record; return only the fields it holds, cleaned.

    With partial=False a title is required. Raises ValidationError listing every bad field.
    """
    if not isinstance(data, Mapping):
        raise ValidationError(
            {"": "a story must be a JSON object"}, "a story must be a JSON object"
        )
    errors = v.FieldErrors()
    out: dict[str, Any] = {}
    for key in data:
        if key not in WRITABLE and key not in READ_ONLY:
            errors.errors[str(key)] = "unknown field"

    def has(key: str) -> bool:
        return key in data

    if has("title") or not partial:
        out["title"] = errors.check(
            "title", v.text, data.get("title"), max_len=settings.title_max, required=True
        )
    if has("summary"):
        out["summary"] = errors.check(
            "summary", v.text, data["summary"], max_len=settings.summary_max, single_line=False
        )
    if has("body_html"):
        body = data["body_html"]
        if body is not None and not isinstance(body, str):
            errors.errors["body_html"] = "must be a string"
        elif body and len(body) > settings.body_max:
            errors.errors["body_html"] = f"must be at most {settings.body_max} characters"
        else:
            out["body_html"] = body or ""  # sanitised below, once every field passed
    if has("url"):
        out["url"] = errors.check("url", v.http_url, data["url"])
    if has("authors"):
        out["authors"] = errors.check(
            "authors", v.person_names, data["authors"], max_items=50, max_len=200
        )
    for key in ("source", "section"):
        if has(key):
            out[key] = errors.check(key, v.optional_text, data[key], max_len=200)
    if has("tags"):
        out["tags"] = errors.check("tags", v.string_list, data["tags"], max_items=100, max_len=100)
    if has("language"):
        out["language"] = errors.check("language", v.language, data["language"])
    if has("image"):
        out["image"] = _image(data["image"], errors, settings)
    if has("code"):
        out["code"] = errors.check("code", _code, data["code"])
    if has("external_id"):
        out["external_id"] = errors.check(
            "external_id", v.optional_text, data["external_id"], max_len=512, plain=False
        )
    if has("status"):
        out["status"] = errors.check("status", _status, data["status"])
    for key in ("publish_at", "published_at"):
        if has(key):
            out[key] = errors.check(key, v.aware_datetime, data[key])

    if (
        out.get("status") == "scheduled"
        and not out.get("publish_at")
        and "publish_at" not in errors.errors
    ):
        errors.errors["publish_at"] = "is required when status is scheduled"
    if errors.errors:
        raise ValidationError(errors.errors)
    if "body_html" in out:
        out["body_html"] = _clean_body(out["body_html"], settings)
    return out


def _clean_body(body_html: str, settings: Settings) -> CleanHtml:
    """Sanitise the body; its URLs are made absolute later, against the story's URL
    (``CleanHtml.resolve``), which may only be known inside the write transaction."""
    try:
        return clean_html(body_html, max_depth=settings.html_max_depth)
    except HtmlTooDeep as exc:
        message = (
            f"is nested more than {exc.limit} elements deep (setting html_max_depth); "
            "flatten the markup"
        )
        raise ValidationError({"body_html": message}) from None


@dataclass(frozen=True)
class StoryInput:
    """A story record validated and sanitised (``prepare_story``): what the service needs
    from a request before it opens a write transaction."""

    fields: dict[str, Any]
    partial: bool


def prepare_story(data: Any, settings: Settings, *, partial: bool = False) -> StoryInput:
    """Validate and sanitise a story record: all the CPU work of a save, done before the write
    transaction so that no other writer waits for it. Raises ValidationError."""
    return StoryInput(clean_story(data, settings, partial=partial), partial)
