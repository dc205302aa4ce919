"""Errors that services raise; the HTTP layer and the CLI turn them into responses and messages."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors a caller can act on."""

    code = "error"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(ServiceError):
    """Input that breaks a rule; `fields` maps each field path to what is wrong with it."""

    code = "invalid"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        if message is None:
            message = "; ".join(f"{k}: {v}" for k, v in fields.items())
        super().__init__(message, fields)


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"
