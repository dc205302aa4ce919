"""Roles as ranks: a role may do everything a lower one may."""

from __future__ import annotations

READER, EDITOR, ADMIN = "reader", "editor", "admin"
# admin: everything; editor: stories and links; reader: the read-only API.
RANKS: dict[str, int] = {READER: 1, EDITOR: 2, ADMIN: 3}
ROLES: tuple[str, ...] = tuple(RANKS)


def check_role(role: str) -> str:
    if role not in RANKS:
        raise ValueError(f"unknown role {role!r}: use {', '.join(ROLES)}")
    return role


def allows(have: str, need: str) -> bool:
    """Whether a principal with role `have` may do what needs role `need`."""
    return RANKS.get(have, 0) >= RANKS[need]
