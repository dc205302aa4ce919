"""Story payloads of the API: what a client sends and what it gets back.

Request schemas check shapes and JSON types (and document them); the rules themselves (lengths,
URLs, language tags, life cycle) are the service's (stories/schema.py clean_story), which
reports every bad field by name.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from syndication.api.common import (
    DATE,
    Pattern,
    RawBody,
    Whole,
    cursor_field,
    http_url,
    not_blank,
    page_schema,
)
from syndication.stories.schema import CODE_RE, KILLED, STATUSES

_DATE = DATE
_URL = {"format": "uri"}
# URLs stored as they were given (an IRI stays one here; feeds print it as a URI).
_IRI = {"format": "iri"}
# What validation.text does to every plain-text field; the same words in every description.
PLAIN = (
    "plain text: HTML tags are removed and character references decoded when stored "
    "('&amp;' is stored as '&', '<b>Q3</b>' as 'Q3'; '<3' stays), and so are C1 controls, "
    "U+FEFF and U+FFFD"
)
_SIZE = validate.Range(0, 2**53)


class ImageIn(RawBody):
    url = http_url(required=True, metadata={"description": "http(s) URL of the image"})
    caption = f.String(allow_none=True, metadata={"description": PLAIN})
    type = f.String(allow_none=True, metadata={"description": "MIME type, e.g. image/jpeg"})
    length = Whole(allow_none=True, validate=_SIZE, metadata={"description": "size in bytes"})
    width = Whole(allow_none=True, validate=_SIZE)
    height = Whole(allow_none=True, validate=_SIZE)


class StoryIn(RawBody):
    """A story in the README's schema. `title` is required on creation; PATCH takes any
    subset. Read-only fields of an export (`updated_at`, `revision`, `page_url`…) are accepted
    and ignored, so a story fetched from the API can be sent back as is."""

    code = f.String(
        validate=Pattern(f"^(?:{CODE_RE.pattern.strip('^$')})$"),
        metadata={
            "description": "Story Code: 1-64 letters, digits, '-' or '_'; assigned from a "
            "numeric sequence when absent"
        },
    )
    title = f.String(
        required=True,
        validate=not_blank(),
        metadata={"description": f"at most title_max characters (maxLength); {PLAIN}"},
    )
    summary = f.String(
        allow_none=True,
        metadata={"description": f"the lead, {PLAIN}; block tags (p, br, li...) end a line"},
    )
    body_html = f.String(
        allow_none=True, metadata={"description": "HTML, sanitised before it is stored"}
    )
    url = http_url(allow_none=True, metadata={"description": "canonical http(s) URL"})
    authors = f.List(
        f.String(),
        allow_none=True,
        metadata={
            "description": f"names, {PLAIN}; an e-mail address in angle brackets "
            "('Name <a@b.example>') is dropped: no feed or page prints one in a name"
        },
    )
    source = f.String(allow_none=True, metadata={"description": PLAIN})
    section = f.String(allow_none=True, metadata={"description": PLAIN})
    tags = f.List(f.String(), allow_none=True, metadata={"description": PLAIN})
    language = f.String(allow_none=True, metadata={"description": "BCP 47 tag (en, en-GB, ar)"})
    image = f.Nested(ImageIn, allow_none=True)
    external_id = f.String(allow_none=True)
    status = f.String(
        allow_none=True,
        validate=validate.OneOf(STATUSES),
        metadata={
            "description": "draft (default), published, or scheduled with publish_at; "
            "retracted is reached through /retract"
        },
    )
    publish_at = f.String(
        validate=validate.Length(min=1),
        allow_none=True,
        metadata={
            **_DATE,
            "description": "ISO 8601 with a zone offset; needed for scheduled"
            + "; "
            + _DATE["description"],
        },
    )
    published_at = f.String(validate=validate.Length(min=1), allow_none=True, metadata=_DATE)
    # Read-only, ignored on input (present in what the API returns).
    id = f.Raw(load_only=True, allow_none=True, metadata={"description": "ignored"})
    page_url = f.Raw(
        load_only=True, allow_none=True, metadata={"description": "read-only, ignored"}
    )
    updated_at = f.Raw(
        load_only=True, allow_none=True, metadata={"description": "read-only, ignored"}
    )
    created_at = f.Raw(
        load_only=True, allow_none=True, metadata={"description": "read-only, ignored"}
    )
    revision = f.Raw(
        load_only=True, allow_none=True, metadata={"description": "read-only, ignored"}
    )
    short_url = f.Raw(
        load_only=True, allow_none=True, metadata={"description": "read-only, ignored"}
    )
    qr_svg = f.Raw(load_only=True, allow_none=True, metadata={"description": "read-only, ignored"})
    qr_png = f.Raw(load_only=True, allow_none=True, metadata={"description": "read-only, ignored"})
    corrections = f.Raw(
        load_only=True,
        allow_none=True,
        metadata={"description": "read-only, ignored: POST /corrections adds one"},
    )


class ImageOut(ma.Schema):
    url = f.String(required=True, metadata=_IRI)
    caption = f.String()
    type = f.String()
    length = f.Integer()
    width = f.Integer()
    height = f.Integer()


class CorrectionOut(ma.Schema):
    text = f.String(required=True, metadata={"description": "plain text"})
    at = f.String(required=True, metadata=_DATE)


class CorrectionIn(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    text = f.String(
        required=True,
        metadata={
            "description": "the correction, plain text (markup is removed), 1 to 2000 "
            "characters; the same text sent again adds nothing"
        },
    )


class StoryOut(ma.Schema):
    code = f.String(required=True)
    title = f.String(required=True)
    summary = f.String(required=True)
    body_html = f.String(required=True)
    url = f.String(
        required=True, metadata={**_IRI, "description": "canonical URL, as it was given"}
    )
    page_url = f.String(
        required=True, metadata={**_URL, "description": "the story page; its guid in feeds"}
    )
    authors = f.List(f.String(), required=True)
    source = f.String(required=True, allow_none=True)
    section = f.String(required=True, allow_none=True)
    tags = f.List(f.String(), required=True)
    language = f.String(required=True, allow_none=True)
    image = f.Nested(ImageOut, required=True, allow_none=True)
    status = f.String(required=True, validate=validate.OneOf((*STATUSES, KILLED)))
    publish_at = f.String(
        validate=validate.Length(min=1), required=True, allow_none=True, metadata=_DATE
    )
    published_at = f.String(
        validate=validate.Length(min=1), required=True, allow_none=True, metadata=_DATE
    )
    updated_at = f.String(required=True, metadata=_DATE)
    revision = f.Integer(
        required=True,
        metadata={
            "description": "grows with each content change and each retraction or "
            "re-publication of a published story: every partner event carries a greater one"
        },
    )
    corrections = f.List(
        f.Nested(CorrectionOut),
        required=True,
        metadata={"description": "public corrections, oldest first"},
    )
    short_url = f.String(
        required=True,
        allow_none=True,
        metadata={**_URL, "description": "the News Link, once the story has been published"},
    )
    qr_svg = f.String(required=True, allow_none=True, metadata=_URL)
    qr_png = f.String(required=True, allow_none=True, metadata=_URL)
    killed_at = f.String(metadata={**_DATE, "description": "only on a killed story"})
    kill_reason = f.String(metadata={"description": "only on a killed story"})


StoryPage = page_schema(StoryOut, "StoryPage")


class KillIn(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    reason = f.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "why the story is taken down (kept in its tombstone)"},
    )


class StoryQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    status = f.String(validate=validate.OneOf((*STATUSES, KILLED)))
    section = f.String()
    tag = f.String()
    language = f.String(metadata={"description": "en also matches en-GB"})
    source = f.String(metadata={"description": "case-insensitive"})
    q = f.String(metadata={"description": "text in the title"})
    limit = f.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = cursor_field()
