"""Field checks shared by stories and channels: each returns the clean value or raises ValueError
with the message that ends up next to the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import langcodes

from feeds.text import plain_text, split_mailbox, strip_xml_forbidden

_SPACES = re.compile(r"\s+")


def text(
    value: Any,
    *,
    max_len: int,
    required: bool = False,
    single_line: bool = True,
    plain: bool = True,
) -> str:
    """A text field as stored. Plain text (titles, names, summaries, captions, tags) is read as
    HTML would show it (feeds.text.plain_text): tags removed, entities decoded, C1 controls,
    U+FEFF and U+FFFD removed, NEL as a line break, so every format prints it as it is and no
    reader or validator sees markup in it. Only HTML's element names are tags: "<3" or
    "Hostile & <Tests>" are text and stay.
    plain=False is for identifiers, which keep every character XML allows."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    value = plain_text(value) if plain else strip_xml_forbidden(value)
    value = _SPACES.sub(" ", value).strip() if single_line else value.strip()
    if required and not value:
        raise ValueError("must not be empty")
    if len(value) > max_len:
        raise ValueError(f"must be at most {max_len} characters (got {len(value)})")
    return value


def optional_text(value: Any, *, max_len: int, plain: bool = True) -> str | None:
    return text(value, max_len=max_len, plain=plain) or None


def http_url(value: Any, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise ValueError("must not be empty")
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string")
    value = value.strip()
    if len(value) > 2048:
        raise ValueError("must be at most 2048 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("must not contain spaces or control characters")
    return value


def language(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not langcodes.tag_is_valid(value.strip()):
        raise ValueError(f"is not a valid BCP 47 language tag: {value!r}")
    return langcodes.standardize_tag(value.strip())


# The dates the service stores and compares, in UTC. Wider and some date would fail to print
# in some zone or format (datetime stops at year 9999, and UTC+14 is a day ahead of UTC at
# most); before 1900 no news story is dated, and zones are local mean time anyway.
DATE_MIN = datetime(1900, 1, 1, tzinfo=UTC)
DATE_MAX = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
DATE_RANGE = "1900-01-01T00:00:00Z to 9999-12-30T23:59:59Z"


def in_date_range(value: datetime) -> datetime:
    """The one date-range rule (API, admin forms, imports, filters): an aware datetime whose
    UTC instant lies in DATE_MIN..DATE_MAX, else ValueError. Checked after the offset, which
    is where year 1 at +14:00 or year 9999 at -14:00 leave what a datetime can hold."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not DATE_MIN <= utc <= DATE_MAX:
        raise ValueError(f"must be from {DATE_RANGE}")
    return value


def aware_datetime(value: Any) -> datetime | None:
    """An ISO 8601 date-time with a time zone (or an aware datetime), in the date range."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        raw = value.strip()
        if raw.endswith(("Z", "z")):
            raw = raw[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"is not an ISO 8601 date-time: {value!r}") from None
    else:
        raise ValueError("must be an ISO 8601 date-time string")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("must include a time zone offset (e.g. 2025-02-14T09:10:00+00:00)")
    return in_date_range(parsed)


def iso(value: datetime | None) -> str | None:
    """A date-time as the API and payloads print it: ISO 8601 in UTC with a Z (naive = UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def string_list(value: Any, *, max_items: int, max_len: int) -> list[str]:
    """A list of short strings; blanks and case-insensitive duplicates dropped, order kept."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError("must be a list of strings")
    out: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        try:
            clean = text(item, max_len=max_len)
        except ValueError as exc:
            raise ValueError(f"item {i}: {exc}") from None
        if clean and clean.casefold() not in seen:
            seen.add(clean.casefold())
            out.append(clean)
    if len(out) > max_items:
        raise ValueError(f"must have at most {max_items} items")
    return out


def person_names(value: Any, *, max_items: int, max_len: int) -> list[str]:
    """Names of people (story authors): a string_list whose "Name <address>", "address (Name)"
    and "Name (address)" items lose the address, and whose bare addresses are dropped. A byline
    is printed in every format and page, and an address there is the validator's ContainsEmail
    warning and a harvester's gift; feeds have no reliable place for it (RSS's author would
    need it for every name, JSON Feed has none)."""
    out: list[str] = []
    for raw in string_list(value, max_items=max_items, max_len=max_len):
        name, address = split_mailbox(raw)
        if name == address:
            continue  # only an address ("a@b.example", "<a@b.example>"): no name to keep
        if name.casefold() not in {n.casefold() for n in out}:
            out.append(name)
    return out


def non_negative_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a whole number")
    try:
        number = int(value)
    except ValueError:
        raise ValueError("must be a whole number") from None
    if number < 0 or number > 2**53:
        raise ValueError("must be between 0 and 2^53")
    return number


class FieldErrors:
    """Collects field errors so a caller sees every problem at once, not just the first."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def check(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValueError as exc:
            self.errors[name] = str(exc)
            return None


def http_field_value(raw: str) -> str:
    """A header value as RFC 9110 section 5.5 has it (field-content), narrowed to ASCII: the
    spaces and tabs around it are not part of it and go; what is left must be visible ASCII
    (VCHAR, 0x21-0x7E) with spaces and tabs only inside. No obs-text (bytes 0x80-0xFF, which
    senders would have to encode one way or another), no control characters, DEL included.
    ValueError says what and where (1-based, in the value as given)."""
    value = raw.strip(" \t")
    if not value:
        raise ValueError("must not be empty or only spaces")
    lead = len(raw) - len(raw.lstrip(" \t"))
    for i, char in enumerate(value):
        if not ("\x21" <= char <= "\x7e" or char in " \t"):
            raise ValueError(
                "must be visible ASCII characters (RFC 9110 field value); "
                f"got {char!r} at position {lead + i + 1}"
            )
    return value
