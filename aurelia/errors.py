"""Typed errors: every bad input becomes one of these, with the file (if any) and the reason.

The CLI prints ``str(error)`` on one line and exits with code 2; the Python API raises them.
Every message is redacted (:mod:`aurelia.redact`): a key or URL credential never reaches it.
"""

from __future__ import annotations

from aurelia.redact import redact_text


class AureliaError(Exception):
    """Base class: a user-facing problem with a one-line explanation."""

    exit_code = 2  # the CLI's exit status: 2 for bad input

    def __init__(self, reason: str, *, path: str | None = None) -> None:
        self.reason = redact_text(reason)
        self.path = redact_text(path) if path else path
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)


class MediaError(AureliaError):
    """A media file is missing, unreadable, not media, or lacks the stream we need."""


class InputError(AureliaError):
    """The question, choices or run settings are invalid."""


class SettingError(InputError, ValueError):
    """A run setting that does not exist or has a bad value. A ValueError too, so that a
    LangGraph server shows a client its message (it hides those of other exception types)."""


class ModelConfigError(AureliaError):
    """A model string is unknown, or its provider cannot be used (package or key missing)."""


class MissingAPIKeyError(ModelConfigError):
    """The chosen provider needs an API key that is not set in the environment."""


class StoreError(AureliaError):
    """A database that holds results (thread checkpoints) failed: locked by another process,
    read-only, full disk. What was stored before stays; the same command resumes."""

    exit_code = 1


class ModelCallError(AureliaError):
    """A model call failed for a reason that retrying did not fix (server unreachable, bad key,
    rate limit, prompt longer than the context window…). ``status`` is the HTTP status when the
    server answered one, ``attempts`` the requests made for the call."""

    exit_code = 1

    def __init__(self, reason: str, *, path: str | None = None, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(reason, path=path)
        self.status = status
        self.attempts = attempts


class ThreadBusyError(InputError):
    """Another process (or run) holds the thread: two runs on one thread would both pay for
    every model call and interleave their checkpoints."""


def describe_failure(exc: BaseException) -> str:
    """One line for an exception: its type and the first line of its message (redacted)."""
    first = redact_text((str(exc).strip().splitlines() or [""])[0][:300])
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
