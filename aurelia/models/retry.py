"""The one retry policy for model calls, for transient faults only, counted in one place.

Retried: HTTP 408, 425, 429 and 5xx, timeouts and dropped or refused connections, with
exponential backoff and full jitter, never sooner than a ``Retry-After`` header asks. Never
retried: any other 4xx (a bad request or key stays bad), configuration and input errors, and
local failures (a prompt over a llama.cpp context window). The provider clients' own retries
are switched off (``max_retries=0``) where the registry builds them, so one logical call makes
at most ``attempts`` requests. A run's time budget is checked before every attempt.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from aurelia.errors import AureliaError, ModelCallError, describe_failure

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 120.0  # per request; a hung server ends the call after this
DEFAULT_ATTEMPTS = 3
BASE_DELAY_S = 0.5
MAX_DELAY_S = 30.0  # backoff cap; a Retry-After beyond it ends the call instead of waiting
RETRY_STATUSES = {408, 425, 429}
TRANSIENT_NAMES = {  # exception classes of the HTTP stacks the providers use (httpx, requests, openai, anthropic, google)
    "APITimeoutError",
    "APIConnectionError",
    "TimeoutException",
    "ConnectError",
    "ReadError",
    "WriteError",
    "NetworkError",
    "RemoteProtocolError",
    "ReadTimeout",
    "ConnectTimeout",
    "ConnectionError",
    "ChunkedEncodingError",
    "ServiceUnavailable",
    "TooManyRequests",
    "DeadlineExceeded",
    "InternalServerError",
    "OverloadedError",
}

sleep = time.sleep  # tests replace it to record the waits instead of waiting


@dataclass(frozen=True)
class CallLimits:
    """How long and how often one logical model call may try: ``deadline`` is the run's budget
    end on the ``time.monotonic`` clock (None: no budget)."""

    attempts: int = DEFAULT_ATTEMPTS
    deadline: float | None = None
    budget_s: float | None = None  # for the message when the deadline passes

    def check_budget(self, label: str) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise ModelCallError(f"the run's time budget of {self.budget_s:g}s is spent before calling model {label!r}")


@dataclass
class Tally:
    """Requests made for one logical call (its attempts), over every ``call_with_retry`` in it."""

    attempts: int = 0
    waits: list[float] = field(default_factory=list)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (openai/anthropic ``status_code``, httpx ``response``)."""
    for source in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status", "code"):
            value = getattr(source, attr, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
    return None


def is_transient(exc: BaseException) -> bool:
    """429, 408/425, 5xx, timeouts and dropped connections; nothing else."""
    if isinstance(exc, AureliaError):
        return False
    status = status_of(exc)
    if status is not None:
        return status in RETRY_STATUSES or status >= 500
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    return any(cls.__name__ in TRANSIENT_NAMES for cls in type(exc).__mro__)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date; ``retry-after-ms``)."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def backoff(attempt: int, asked: float | None) -> float:
    """Full-jitter exponential backoff after ``attempt`` (1-based), never below ``asked``."""
    return max(random.uniform(0, min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (attempt - 1))), asked or 0.0)


def call_with_retry(fn: Callable[[], T], limits: CallLimits, label: str, tally: Tally | None = None) -> T:
    """``fn()`` under the policy; what still fails becomes one ModelCallError naming ``label``."""
    tally = tally if tally is not None else Tally()
    attempt = 0
    while True:
        limits.check_budget(label)
        attempt += 1
        tally.attempts += 1
        try:
            return fn()
        except AureliaError:
            raise
        except Exception as exc:
            status = status_of(exc)
            transient = is_transient(exc)
            asked = retry_after(exc) if transient else None
            delay = backoff(attempt, asked) if transient and attempt < limits.attempts else None
            if delay is not None and asked is not None and asked > MAX_DELAY_S:
                delay, why = None, f"; the server asks to retry after {asked:g}s"
            elif delay is not None and limits.deadline is not None and time.monotonic() + delay >= limits.deadline:
                delay, why = None, "; the run's time budget ends before the next try"
            else:
                why = ""
            if delay is None:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise ModelCallError(
                    f"model {label!r} failed{tries} ({describe_failure(exc)}){why}", status=status, attempts=attempt
                ) from exc
            tally.waits.append(delay)
            sleep(delay)


def request_kwargs(provider: str, timeout: float) -> dict[str, Any]:
    """Constructor arguments that give a provider's client this per-request timeout and no
    retries of its own (ours are the only ones); empty for providers we do not know."""
    if provider in {"openai", "openai_compatible", "azure_openai", "anthropic", "deepseek", "xai", "groq"}:
        return {"max_retries": 0, "timeout": timeout}
    if provider == "google_genai":
        return {"retries": 0, "timeout": timeout}
    if provider == "ollama":
        return {"client_kwargs": {"timeout": timeout}}
    return {}
