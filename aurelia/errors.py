"""Typed errors: every bad input becomes one of these, with the file (if any) and the reason.

The CLI prints ``str(error)`` on one line and exits with code 2; the Python API raises them.
"""

from __future__ import annotations


class AureliaError(Exception):
    """Base class: a user-facing problem with a one-line explanation."""

    exit_code = 2  # the CLI's exit status: 2 for bad input

    def __init__(self, reason: str, *, path: str | None = None) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


class MediaError(AureliaError):
    """A media file is missing, unreadable, not media, or lacks the stream we need."""


class InputError(AureliaError):
    """The question, choices or run settings are invalid."""


class ModelConfigError(AureliaError):
    """A model string is unknown, or its provider cannot be used (package or key missing)."""


class MissingAPIKeyError(ModelConfigError):
    """The chosen provider needs an API key that is not set in the environment."""


class ModelCallError(AureliaError):
    """A model call failed for a reason that retrying did not fix (server unreachable, bad key,
    rate limit, prompt longer than the context window…)."""

    exit_code = 1


def root_failure(exc: BaseException) -> BaseException:
    """The exception of the last attempt when ``exc`` is tenacity's RetryError (``with_retry``)."""
    last = getattr(exc, "last_attempt", None)
    return last.exception() if last is not None and last.exception() is not None else exc


def describe_failure(exc: BaseException) -> str:
    """One line for an exception: its type and the first line of its message."""
    exc = root_failure(exc)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
