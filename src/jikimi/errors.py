"""Errors every package may raise; each carries a reason a person understands and what to do next."""

from __future__ import annotations


class JikimiError(Exception):
    """Base class: ``reason`` says what went wrong, ``hint`` what to do next."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.reason} ({self.hint})" if self.hint else self.reason


class ConfigError(JikimiError):
    """The configuration or environment is wrong."""


class NotFoundError(JikimiError):
    """A named object (bank, person, case, notice...) does not exist."""


class ValidationError(JikimiError):
    """User input (a hash, a name, a date...) is malformed."""
