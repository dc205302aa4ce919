"""Partner payloads of the API (admin only). Shapes here; the rules are partners.service's."""

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
    page_schema,
)
from syndication.partners.service import NAME_MAX

# partners.service's rule for a name, as one pattern (the document holds one per field): after
# str.strip() at least one character, and no C0 control or DEL anywhere. _SPACES is what strip()
# removes that is no control character. Spaces, then one character that is neither, then
# anything printable: the parts are disjoint, so matching stays linear in the length.
_SPACES = " \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NAME_PATTERN = f"^[{_SPACES}]*[^{_SPACES}\\x00-\\x1f\\x7f][^\\x00-\\x1f\\x7f]*$"
MAX_ASSIGN = 1000  # subscribers one request assigns at most


class PartnerIn(RawBody):
    name = f.String(
        required=True,
        validate=[
            validate.Length(max=NAME_MAX),
            Pattern(NAME_PATTERN, "must not be empty nor contain control characters"),
        ],
        metadata={"description": "the organisation, 1-100 printable characters, unique"},
    )


class PartnerOut(ma.Schema):
    id = f.Integer(required=True)
    name = f.String(required=True)
    created_at = f.String(required=True, metadata=DATE)
    subscriber_ids = f.List(
        f.Integer(),
        required=True,
        metadata={"description": "the webhook subscribers its people and tokens manage"},
    )


PartnerPage = page_schema(PartnerOut, "PartnerPage")


class AssignIn(RawBody):
    subscriber_ids = f.List(
        Whole(validate=validate.Range(1, MAX_ID)),
        required=True,
        validate=validate.Length(min=1, max=MAX_ASSIGN),
        metadata={
            "description": "subscribers to give this partner (taken from any other partner); "
            "all or none: an unknown id assigns nothing (404)"
        },
    )
