"""Channel payloads of the API. Shapes here; the rules are channels.service.clean_channel's."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from feeds import FORMATS
from syndication.api.common import DATE, Pattern, RawBody, Whole, http_url, not_blank, page_schema
from syndication.channels.service import CONTENT_MODES, MAX_LIMIT, SLUG_RE
from syndication.filters import KINDS

_URL = {"format": "uri"}
_IRI = {"format": "iri"}  # stored as given; feeds print it as a URI
_PLAIN = (
    "plain text: HTML tags are removed and character references decoded when stored, "
    "and so are C1 controls, U+FEFF and U+FFFD"
)
_TERMS = {"description": "stories matching any of these values"}


class FilterIn(RawBody):
    """Which stories the channel shows: every kind given must match (AND), any value of a kind
    (OR). Empty: every published story."""

    sections = f.List(f.String(), allow_none=True, metadata=_TERMS)
    tags = f.List(f.String(), allow_none=True, metadata=_TERMS)
    languages = f.List(f.String(), allow_none=True, metadata=_TERMS)
    sources = f.List(f.String(), allow_none=True, metadata=_TERMS)
    authors = f.List(f.String(), allow_none=True, metadata=_TERMS)


assert set(FilterIn._declared_fields) == set(KINDS)  # noqa: S101 - keep in step with filters.py


class ChannelIn(RawBody):
    slug = f.String(
        required=True,
        validate=[Pattern(f"^(?:{SLUG_RE.pattern.strip('^$')})$"), validate.Length(max=100)],
        metadata={"description": "lowercase letters, digits and single dashes; never changes"},
    )
    title = f.String(required=True, validate=not_blank(), metadata={"description": _PLAIN})
    description = f.String(allow_none=True, metadata={"description": _PLAIN})
    language = f.String(allow_none=True, metadata={"description": "BCP 47"})
    link = http_url(allow_none=True)
    copyright = f.String(allow_none=True)
    logo = http_url(allow_none=True)
    filter = f.Nested(FilterIn, allow_none=True)
    limit = Whole(
        allow_none=True,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"items per page, 1-{MAX_LIMIT}"},
    )
    content = f.String(allow_none=True, validate=validate.OneOf(CONTENT_MODES))
    formats = f.List(f.String(validate=validate.OneOf(FORMATS)), allow_none=True)


class FilterOut(ma.Schema):
    sections = f.List(f.String())
    tags = f.List(f.String())
    languages = f.List(f.String())
    sources = f.List(f.String())
    authors = f.List(f.String())


class ChannelOut(ma.Schema):
    slug = f.String(required=True)
    title = f.String(required=True, validate=not_blank())
    description = f.String(required=True)
    language = f.String(required=True)
    link = f.String(required=True, metadata=_IRI)
    copyright = f.String(required=True, allow_none=True)
    logo = f.String(required=True, allow_none=True, metadata=_IRI)
    filter = f.Nested(FilterOut, required=True)
    limit = f.Integer(required=True)
    content = f.String(required=True, validate=validate.OneOf(CONTENT_MODES))
    formats = f.List(f.String(validate=validate.OneOf(FORMATS)), required=True)
    feeds = f.Dict(
        keys=f.String(),
        values=f.String(metadata=_URL),
        required=True,
        metadata={"description": "feed URL by format"},
    )
    updated_at = f.String(required=True, metadata=DATE)


ChannelPage = page_schema(ChannelOut, "ChannelPage")


class PreviewQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    format = f.String(load_default="rss", validate=validate.OneOf(FORMATS))


class FindingOut(ma.Schema):
    level = f.String(required=True, validate=validate.OneOf(("error", "warning", "info")))
    message = f.String(required=True)


class PreviewOut(ma.Schema):
    format = f.String(required=True, validate=validate.OneOf(FORMATS))
    content_type = f.String(required=True)
    body = f.String(required=True, metadata={"description": "the rendered feed, as served"})
    findings = f.List(
        f.Nested(FindingOut),
        required=True,
        metadata={"description": "what a feed validator would say about it"},
    )
