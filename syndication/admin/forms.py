"""HTML form values <-> service data. No Flask: a form is any mapping with get/getlist.

Parsing never raises: it returns the data for a service plus the errors found on the way
(dates that are not dates, say), keyed by form field name. Form field names are the service's
error keys with "." replaced by "_" ("image.url" -> "image_url"), so one mapping serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, Protocol

from syndication.errors import ServiceError
from syndication.filters import KINDS
from syndication.validation import in_date_range

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
IMAGE_KEYS = ("url", "caption", "type", "width", "height", "length")


class Form(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...
    def getlist(self, key: str) -> list[Any]: ...


def field_key(path: str) -> str:
    return path.replace(".", "_") if path else "form"


def errors_of(exc: ServiceError) -> dict[str, str]:
    """A service error's fields as form field keys (a message without fields goes to "form")."""
    if exc.fields:
        return {field_key(k): v for k, v in exc.fields.items()}
    return {"form": exc.message}


def split_list(raw: str | None) -> list[str]:
    """Comma-separated input to a list ("a, b,,c" -> ["a", "b", "c"])."""
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def join_list(values: list[str] | None) -> str:
    return ", ".join(values or [])


def _text(form: Form, key: str) -> str:
    return (form.get(key) or "").strip()


def _optional(form: Form, key: str) -> str | None:
    return _text(form, key) or None


def parse_local(raw: str | None, tz: tzinfo) -> datetime | None:
    """A datetime-local value ("2025-03-01T09:30", seconds optional) in `tz`; ValueError."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("must be a date and time, e.g. 2025-03-01T09:30") from None
    return in_date_range(naive if naive.tzinfo is not None else naive.replace(tzinfo=tz))


def format_local(value: datetime | None, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime(DATETIME_LOCAL) if value else ""


def _local_field(form: Form, key: str, tz: tzinfo, errors: dict[str, str]) -> datetime | None:
    try:
        return parse_local(form.get(key), tz)
    except ValueError as exc:
        errors[key] = str(exc)
        return None


# Stories ------------------------------------------------------------------------------------


def story_data(form: Form, tz: tzinfo, *, with_status: bool) -> tuple[dict[str, Any], dict]:
    """The story form as service data (create_story / update_story) and any parse errors."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "title": _text(form, "title"),
        "summary": _text(form, "summary"),
        "body_html": form.get("body_html") or "",
        "section": _optional(form, "section"),
        "source": _optional(form, "source"),
        "authors": split_list(form.get("authors")),
        "tags": split_list(form.get("tags")),
        "language": _optional(form, "language"),
    }
    image = {k: _text(form, f"image_{k}") for k in IMAGE_KEYS}
    data["image"] = {k: v for k, v in image.items() if v} or None
    if with_status:
        data["status"] = _text(form, "status") or "draft"
        data["publish_at"] = _local_field(form, "publish_at", tz, errors)
    return data, errors


def uploaded_image(facts: dict[str, Any], typed: dict[str, Any] | None) -> dict[str, Any]:
    """The story's image after an upload: the stored file's facts, with the caption typed."""
    caption = (typed or {}).get("caption")
    return {**facts, "caption": caption} if caption else dict(facts)


def image_values(image: dict[str, Any] | None) -> dict[str, str]:
    """A story's image as the form's image_* values."""
    image = image or {}
    return {f"image_{k}": "" if image.get(k) is None else str(image[k]) for k in IMAGE_KEYS}


def story_values(story: Any, tz: tzinfo) -> dict[str, str]:
    """A stored story as form values."""
    values = {
        "title": story.title,
        "summary": story.summary or "",
        "body_html": story.body_html or "",
        "section": story.section or "",
        "source": story.source or "",
        "authors": join_list(story.authors),
        "tags": join_list(story.tags),
        "language": story.language or "",
        "status": story.status,
        "publish_at": format_local(story.publish_at, tz),
        **image_values(story.image),
    }
    return values


# Channels -----------------------------------------------------------------------------------

FILTER_KINDS = tuple(KINDS)  # sections, tags, languages, sources, authors


def _limit(raw: str) -> int | str | None:
    if not raw:
        return None
    return int(raw) if raw.isdigit() else raw  # the service says what is wrong with text


def channel_data(form: Form, *, with_slug: bool) -> dict[str, Any]:
    """The channel form as service data (create_channel / update_channel / draft_channel)."""
    data: dict[str, Any] = {
        "title": _text(form, "title"),
        "description": _optional(form, "description"),
        "language": _optional(form, "language"),
        "limit": _limit(_text(form, "limit")),
        "content": _text(form, "content") or "full",
        "formats": [f for f in form.getlist("formats") if f],
        "filter": {
            kind: split_list(form.get(f"filter_{kind}"))
            for kind in FILTER_KINDS
            if split_list(form.get(f"filter_{kind}"))
        },
    }
    if with_slug:
        data["slug"] = _text(form, "slug")
    return data


def channel_values(channel: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "slug": channel.slug,
        "title": channel.title,
        "description": channel.description or "",
        "language": channel.language or "",
        "limit": "" if channel.limit is None else str(channel.limit),
        "content": channel.content,
        "formats": list(channel.formats),
    }
    for kind in FILTER_KINDS:
        values[f"filter_{kind}"] = join_list((channel.filter or {}).get(kind))
    return values


def form_values(form: Form, *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """What was typed, to show again beside the errors (passwords never come back)."""
    values: dict[str, Any] = {
        k: form.get(k) for k in form if k not in lists and "password" not in k
    }
    for key in lists:
        values[key] = form.getlist(key)
    values.pop("csrf_token", None)
    return values


# Links --------------------------------------------------------------------------------------


def link_data(form: Form, tz: tzinfo, *, story_link: bool, new: bool) -> tuple[dict, dict]:
    errors: dict[str, str] = {}
    data: dict[str, Any] = {"title": _optional(form, "title"), "tags": split_list(form.get("tags"))}
    if not story_link:
        data["url"] = _text(form, "url")
        data["valid_until"] = _local_field(form, "valid_until", tz, errors)
        max_visits = _text(form, "max_visits")
        data["max_visits"] = max_visits or None
    if new:
        data["slug"] = _text(form, "slug") or None
    return data, errors


def link_values(link: Any, tz: tzinfo) -> dict[str, str]:
    return {
        "url": link.target_url or "",
        "slug": link.code,
        "title": link.title or "",
        "tags": join_list(link.tags),
        "valid_until": format_local(link.valid_until, tz),
        "max_visits": "" if link.max_visits is None else str(link.max_visits),
    }


# Users --------------------------------------------------------------------------------------


def user_data(form: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    errors: dict[str, str] = {}
    password = form.get("password") or ""
    if password != (form.get("password2") or ""):
        errors["password2"] = "does not match the password"
    data = {
        "username": (form.get("username") or "").strip(),
        "role": form.get("role") or "",
        "password": password,
    }
    return data, errors


def partner_choice(form: Mapping[str, Any], errors: dict[str, str]) -> int | None:
    """The "partner" select of the user, token and subscriber forms: a partner id, or None
    for none (the empty option)."""
    raw = (form.get("partner") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        errors["partner"] = "choose a partner from the list"
        return None
    return int(raw)


# Subscribers (partner webhooks) -------------------------------------------------------------


def _throttle(raw: str) -> float | str | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return raw  # the service says what is wrong with text


def _header_lines(raw: str | None, errors: dict[str, str]) -> dict[str, str]:
    """ "Name: value" lines to a dict (a line without a colon is an error)."""
    out: dict[str, str] = {}
    for line in (raw or "").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            errors["headers"] = f"each line must be 'Name: value', got {line.strip()!r}"
            continue
        # Only the optional whitespace of HTTP goes: the service judges the rest (RFC 9110).
        out[name.strip()] = value.strip(" \t")
    return out


def subscriber_errors(exc: ServiceError) -> dict[str, str]:
    """errors_of, with the service's per-header errors ("headers.X-Partner") shown on the one
    headers field, each naming its header."""
    if not exc.fields:
        return errors_of(exc)
    errors: dict[str, str] = {}
    for path, message in exc.fields.items():
        key = field_key(path)
        if path.startswith("headers."):
            key, message = "headers", f"{path.removeprefix('headers.')}: {message}"
            if key in errors:
                message = f"{errors[key]}; {message}"
        errors[key] = message
    return errors


def subscriber_data(form: Form) -> tuple[dict[str, Any], dict[str, str]]:
    """The subscriber form as service data (create_subscriber / update_subscriber)."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "name": _text(form, "name"),
        "url": _text(form, "url"),
        "event_types": [e for e in form.getlist("event_types") if e],
        "channels": split_list(form.get("channels")),
        "filter": {
            kind: split_list(form.get(f"filter_{kind}"))
            for kind in FILTER_KINDS
            if split_list(form.get(f"filter_{kind}"))
        },
        "format": _text(form, "format") or "json",
        "headers": _header_lines(form.get("headers"), errors),
        "throttle": _throttle(_text(form, "throttle")),
        "receives_embargoed": _embargo_flag(form.get("receives_embargoed"), errors),
    }
    if "kind" in form:  # the new-subscriber form only: a kind never changes
        data["kind"] = _text(form, "kind")
    return data, errors


def partner_settings_data(form: Form) -> tuple[dict[str, Any], dict[str, str]]:
    """The partner portal's settings form (partner/routes.py): event types and custom headers
    only, parsed as the admin's subscriber form parses them; every other field a hostile form
    adds is ignored, so a partner can change nothing else."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "event_types": [e for e in form.getlist("event_types") if e],
        "headers": _header_lines(form.get("headers"), errors),
    }
    return data, errors


def _embargo_flag(raw: str | None, errors: dict[str, str]) -> bool:
    """The checkbox: absent is false, "1" is true; anything else is not what the form sends."""
    if raw in (None, ""):
        return False
    if raw != "1":
        errors["receives_embargoed"] = "must be checked or not"
        return False
    return True


def subscriber_values(sub: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": sub.name,
        "url": sub.url,
        "event_types": list(sub.event_types or []),
        "channels": join_list(sub.channels),
        "format": sub.format,
        "headers": "\n".join(f"{k}: {v}" for k, v in (sub.headers or {}).items()),
        "throttle": "" if sub.throttle is None else f"{sub.throttle:g}",
        "receives_embargoed": bool(sub.receives_embargoed),
    }
    for kind in FILTER_KINDS:
        values[f"filter_{kind}"] = join_list((sub.filter or {}).get(kind))
    return values
