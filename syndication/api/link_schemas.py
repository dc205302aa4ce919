"""Short link payloads of the API. Shapes here; the rules are links.service.clean_link's."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from syndication.api.common import (
    DATE,
    MAX_ID,
    Pattern,
    RawBody,
    Whole,
    cursor_field,
    http_url,
    page_schema,
)
from syndication.links.codes import SLUG_RE

_URL = {"format": "uri"}
_DATE = DATE


class LinkIn(RawBody):
    url = http_url(required=True, metadata={"description": "http(s) target"})
    slug = f.String(
        allow_none=True,
        validate=Pattern(f"^(?:{SLUG_RE.pattern.strip('^$')})$"),
        metadata={"description": "custom code (letters, digits, '-'); generated when absent"},
    )
    title = f.String(allow_none=True)
    tags = f.List(f.String(), allow_none=True)
    valid_until = f.String(
        validate=validate.Length(min=1),
        allow_none=True,
        metadata={**_DATE, "description": "then 410 Gone" + "; " + _DATE["description"]},
    )
    max_visits = Whole(
        allow_none=True,
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "then 410 Gone"},
    )


class LinkOut(ma.Schema):
    code = f.String(required=True)
    short_url = f.String(required=True, metadata=_URL)
    target = f.String(required=True, metadata=_URL)
    story = f.String(
        required=True, allow_none=True, metadata={"description": "code of the story it follows"}
    )
    title = f.String(required=True, allow_none=True)
    tags = f.List(f.String(), required=True)
    valid_until = f.String(
        validate=validate.Length(min=1), required=True, allow_none=True, metadata=_DATE
    )
    max_visits = f.Integer(required=True, allow_none=True)
    human_visits = f.Integer(required=True)
    qr_svg = f.String(required=True, metadata=_URL)
    qr_png = f.String(required=True, metadata=_URL)
    created_at = f.String(required=True, metadata=_DATE)


LinkPage = page_schema(LinkOut, "LinkPage")


class LinkQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    limit = f.Integer(load_default=100, validate=validate.Range(1, 500))
    cursor = cursor_field()


class StatsQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    days = f.Integer(load_default=30, validate=validate.Range(1, 366))


class DayOut(ma.Schema):
    date = f.String(required=True, metadata={"format": "date"})
    link = f.Integer(required=True, metadata={"description": "visits through the short link"})
    qr = f.Integer(required=True, metadata={"description": "visits by QR scan"})
    human = f.Integer(required=True)
    bot = f.Integer(required=True)


class TotalOut(ma.Schema):
    visits = f.Integer(required=True)
    link = f.Integer(required=True)
    qr = f.Integer(required=True)
    human = f.Integer(required=True)
    bot = f.Integer(required=True)


class ReferrerOut(ma.Schema):
    host = f.String(required=True)
    visits = f.Integer(required=True)


class StatsOut(ma.Schema):
    code = f.String(required=True)
    days = f.List(f.Nested(DayOut), required=True)
    total = f.Nested(TotalOut, required=True)
    top_referrers = f.List(f.Nested(ReferrerOut), required=True)
