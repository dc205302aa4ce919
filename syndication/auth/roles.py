"""Roles as ranks: a role may do everything a lower one may."""

from __future__ import annotations

READER, EDITOR, ADMIN = "reader", "editor", "admin"
# A partner's person or token (partners/service.py): outside the ranks, it reaches only the
# partner portal and the partner API, and there only its own partner's subscribers.
PARTNER = "partner"
# admin: everything; editor: stories and links; reader: the read-only API.
RANKS: dict[str, int] = {READER: 1, EDITOR: 2, ADMIN: 3}
ROLES: tuple[str, ...] = (*RANKS, PARTNER)


def check_role(role: str) -> str:
    if role not in RANKS:
        raise ValueError(f"unknown role {role!r}: use {', '.join(ROLES)}")
    return role


def allows(have: str, need: str) -> bool:
    """Whether a principal with role `have` may do what needs role `need`. The partner role is
    not a rank: only partners reach partner views, and partners reach nothing else (not even
    what a reader may read: the newsroom's API is not theirs)."""
    if need == PARTNER or have == PARTNER:
        return have == need
    return RANKS.get(have, 0) >= RANKS[need]
