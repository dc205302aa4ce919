"""Story filters (channels now, subscribers later): AND across kinds, OR within a kind.

Matching is case-insensitive. The same rule runs in SQL (feed queries, over story_terms) and in
Python (deciding which channels a changed story touches), so both are defined here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select

from syndication.models import Story, StoryTerm

# filter key (plural, as in the API) -> term kind (as stored in story_terms)
KINDS = {
    "sections": "section",
    "tags": "tag",
    "languages": "language",
    "sources": "source",
    "authors": "author",
}


def term_key(value: str) -> str:
    return value.casefold()[:200]


def story_terms(
    *,
    section: str | None,
    tags: Iterable[str],
    language: str | None,
    source: str | None,
    authors: Iterable[str],
) -> set[tuple[str, str]]:
    """The (kind, value) pairs a story can be matched on."""
    terms: set[tuple[str, str]] = set()
    if section:
        terms.add(("section", term_key(section)))
    if source:
        terms.add(("source", term_key(source)))
    if language:
        # "en" in a filter matches en, en-GB, en-US…: store the primary subtag as well.
        terms.add(("language", term_key(language)))
        terms.add(("language", term_key(language.split("-")[0])))
    terms.update(("tag", term_key(t)) for t in tags)
    terms.update(("author", term_key(a)) for a in authors)
    return terms


@dataclass(frozen=True)
class StoryFilter:
    sections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> StoryFilter:
        data = data or {}
        return cls(**{key: tuple(data.get(key) or ()) for key in KINDS})

    def to_dict(self) -> dict[str, list[str]]:
        return {key: list(getattr(self, key)) for key in KINDS if getattr(self, key)}

    def _groups(self) -> list[tuple[str, set[str]]]:
        return [
            (kind, {term_key(v) for v in getattr(self, key)})
            for key, kind in KINDS.items()
            if getattr(self, key)
        ]

    def matches(self, terms: set[tuple[str, str]]) -> bool:
        return all(
            any((kind, value) in terms for value in values) for kind, values in self._groups()
        )

    def sql(self) -> ColumnElement[bool]:
        """A WHERE clause over Story: one indexed EXISTS per kind in the filter."""
        clauses = [
            exists(
                select(StoryTerm.story_id).where(
                    StoryTerm.story_id == Story.id,
                    StoryTerm.kind == kind,
                    StoryTerm.value.in_(sorted(values)),
                )
            )
            for kind, values in self._groups()
        ]
        return and_(True, *clauses)
