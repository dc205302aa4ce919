"""The language of the words around the news, and the one way a person reads a time.

Public pages (story, channel, home, errors) speak the story's or the channel's language when a
catalog exists for it (syndication/translations/, gettext via Flask-Babel), else the site's
default_language, else English. The admin stays English. Every time a person reads goes
through local_time: in the configured zone, "2 Dec 2026, 14:05 CET" in English, and Babel's own
long date, short time and zone name in the other languages ("2 ديسمبر 2026، 2:05 م توقيت وسط
أوروبا الرسمي"), with the digits the locale uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from flask import Flask
from flask_babel import Babel, get_locale

TRANSLATIONS = Path(__file__).parent / "translations"
# The languages with a catalog under translations/ (English is the source language).
UI_LANGUAGES = ("en", "ar", "fa")
# Babel formats with ASCII digits; CLDR's default numbering system says which digits a reader
# of the locale expects (Persian: ۰–۹; Arabic in Egypt: ٠–٩; Arabic in Morocco: 0–9).
_DIGITS = {
    "arab": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
    "arabext": str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"),
}


def N_(message: str) -> str:
    """Marks a message for the catalogs where it is made (a service, knowing no locale); the
    page that shows it translates it (syndication/pages/routes.py)."""
    return message


def parse_locale(lang: str | None) -> Locale | None:
    """A BCP 47 tag ("ar-EG", "fa_IR", "en") as a Babel locale; None when Babel has no data."""
    if not lang:
        return None
    try:
        return Locale.parse(lang.strip().replace("_", "-"), sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def ui_locale(lang: str | None, default_language: str) -> Locale:
    """The locale of a page's labels and dates: the content's language when a catalog exists
    for it (keeping its territory for formats: ar-EG), else the site's default, else English."""
    for tag in (lang, default_language):
        locale = parse_locale(tag)
        if locale is not None and locale.language in UI_LANGUAGES:
            return locale
    return Locale("en")


def ui_tag(locale: Locale) -> str:
    """The BCP 47 tag of a locale, for lang attributes ("ar-EG")."""
    return "-".join(p for p in (locale.language, locale.script, locale.territory) if p)


def isolate(text: str) -> str:
    """Plain text set apart for the bidi algorithm (FSI…PDI, what <bdi> is in HTML): a Latin
    slug or code inside an Arabic sentence keeps its place and its order."""
    return f"\u2068{text}\u2069"


@dataclass(frozen=True)
class LocalTime:
    iso: str  # for <time datetime> and machine readers
    text: str  # "2 Dec 2026, 14:05 CET"


def local_time(when: datetime, tz: tzinfo, locale: Locale | str = "en") -> LocalTime:
    """A time as a person reads it, in the configured zone and the given locale."""
    local = when.astimezone(tz)
    loc = locale if isinstance(locale, Locale) else (parse_locale(locale) or Locale("en"))
    iso = local.isoformat(timespec="seconds")
    if loc.language == "en":
        # One English form everywhere (admin and public), whatever the territory: day first,
        # 24-hour clock, the zone's abbreviation (Babel's English spells CET as +0100).
        text = f"{format_date(local, 'd MMM y', locale=loc)}, {local:%H:%M} {local.tzname()}"
        return LocalTime(iso, text.strip())
    date = format_date(local, "long", locale=loc)
    clock = format_time(local, "short", locale=loc)
    # The zone's name in words ("توقيت وسط أوروبا الرسمي"): an offset like +0100 reads
    # backwards in right-to-left text, and an abbreviation like CET is English.
    zone = format_time(local, "zzzz", tzinfo=tz, locale=loc)
    pattern = str(loc.datetime_formats.get("medium", "{1}, {0}"))
    text = f"{pattern.replace('{1}', date).replace('{0}', clock)} {zone}".strip()
    digits = _DIGITS.get(loc.default_numbering_system or "")
    return LocalTime(iso, text.translate(digits) if digits else text)


def init_app(app: Flask, tz: tzinfo) -> None:
    """Flask-Babel with the bundled catalogs, and the `localtime` filter templates use.

    English unless a page says otherwise: the public pages render inside force_locale with the
    language of their content; the admin, sign-in and API docs stay English.
    """
    Babel(
        app,
        default_locale="en",
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=lambda: "en",
    )

    def localtime(when: datetime | str | None) -> LocalTime | None:
        if not when:
            return None
        if isinstance(when, str):  # the API's form of a time (delivery_to_dict), ISO 8601
            when = datetime.fromisoformat(when)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        return local_time(when, tz, get_locale() or "en")

    app.jinja_env.filters["localtime"] = localtime
