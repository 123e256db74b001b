"""The errors of campaign content, worded for the operator (one line each)."""

from __future__ import annotations


class ContentError(Exception):
    """A problem with a campaign's content or settings."""


class CompileError(ContentError):
    """The campaign cannot be built at all (template syntax, bad From, missing file)."""


class RenderError(ContentError):
    """One recipient's message cannot be rendered (a missing field, a bad address).

    ``field`` names the missing merge variable when that is the cause, so the
    pre-launch check can count recipients by missing field.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
