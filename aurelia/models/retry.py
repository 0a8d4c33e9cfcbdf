"""The one retry policy for model calls, for transient faults only, counted in one place.

Retried (by tenacity): HTTP 408, 425, 429 and 5xx, timeouts and dropped or refused connections,
with exponential backoff and full jitter, never sooner than a ``Retry-After`` header asks. Never
retried: any other 4xx (a bad request or key stays bad), configuration and input errors, and
local failures (a prompt over a llama.cpp context window). The provider clients' own retries
are switched off (``max_retries=0``) where the registry builds them, so one logical call makes
at most ``attempts`` requests. A run's time budget is checked before every attempt.

Deadlines: httpx's ``timeout`` bounds each socket operation, so a server that drips one byte a
second never times out. :class:`DeadlineTransport` (the HTTP transport of the clients the
registry builds) bounds every connect, write and read of a request by one deadline that covers
the whole response, headers and body: ``start + timeout`` or the enclosing
:func:`deadline_scope`'s (a run's budget, set by :func:`call_with_retry`), whichever is sooner.
Local models read the same scope (:func:`current_deadline`) between generated tokens.

Async: :func:`acall_with_retry` is the same policy under ``tenacity.AsyncRetrying`` (the same
retry, wait and stop decisions; the waits go through :func:`async_sleep`), and
:class:`LoopTransport` the same deadline for ``httpx.AsyncClient`` (the same httpx timeout
errors), sending over aiohttp (:mod:`aurelia.models.aio_transport`: httpcore's async pool costs
CPU in the square of the requests in flight). An async connection pool belongs to the event loop
it was opened on, so the client the registry builds (:func:`async_deadline_client`) keeps one
pool per running loop, sized for a benchmark's concurrency with its connections kept alive.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpcore
import httpx
import tenacity

from aurelia.errors import AureliaError, ModelCallError, describe_failure
from aurelia.models.aio_transport import AioPool

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

# providers whose LangChain client takes an ``http_client`` (langchain-openai and its subclasses)
DEADLINE_PROVIDERS = {"openai", "openai_compatible", "azure_openai", "deepseek", "xai"}

POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's defaults
# async: one event loop carries a whole run's requests (hundreds at once), each connection kept for reuse
ASYNC_POOL_LIMITS = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)

sleep = time.sleep  # tests replace it to record the waits instead of waiting


async def async_sleep(seconds: float) -> None:
    """The async policy's wait (tests replace it, as they do :data:`sleep`)."""
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class CallLimits:
    """How long and how often one logical model call may try: ``deadline`` is the run's budget
    end on the ``time.monotonic`` clock (None: no budget)."""

    attempts: int = DEFAULT_ATTEMPTS
    deadline: float | None = None
    budget_s: float | None = None  # for the message when the deadline passes

    def check_budget(self, label: str) -> None:
        if self.spent():
            raise ModelCallError(f"the run's time budget of {self.budget_s:g}s is spent before calling model {label!r}")

    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


# ---------------------------------------------------------------------------------- deadlines
_DEADLINE: ContextVar[float | None] = ContextVar("aurelia_deadline", default=None)


def current_deadline() -> float | None:
    """The deadline (``time.monotonic`` clock) every model request made now must end by; None: none."""
    return _DEADLINE.get()


def sooner(a: float | None, b: float | None) -> float | None:
    """The earlier of two deadlines (None: no deadline)."""
    return b if a is None else a if b is None else min(a, b)


@contextmanager
def deadline_scope(deadline: float | None) -> Iterator[float | None]:
    """Every model request made inside (in this thread, or a thread started with a copy of this
    context) ends by ``deadline`` or by an enclosing scope's, whichever is sooner; yields that."""
    effective = sooner(_DEADLINE.get(), deadline)
    token = _DEADLINE.set(effective)
    try:
        yield effective
    finally:
        _DEADLINE.reset(token)


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` for one socket operation, cut to what is left before the current deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the current deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own socket backend, its connections wrapped in :class:`_DeadlineStream`."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None, socket_options: Any = None):
        stream = self._inner.connect_tcp(host, port, _bounded(timeout, httpcore.ConnectTimeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None):
        return _DeadlineStream(self._inner.connect_unix_socket(path, _bounded(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineBody(httpx.SyncByteStream):
    """A response body read under its request's deadline, wherever it is read."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: float | None) -> None:
        self._inner, self._deadline = inner, deadline

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            with deadline_scope(self._deadline):
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        self._inner.close()


class DeadlineTransport(httpx.HTTPTransport):
    """An httpx transport whose requests each end by one deadline covering the whole response
    (connect, TLS, request, headers and body): ``timeout`` seconds after the request starts, or
    the current :func:`deadline_scope`'s deadline if sooner. A request past it fails with
    httpx's own timeout errors (``ConnectTimeout``, ``WriteTimeout``, ``ReadTimeout``), and its
    connection is closed, not returned to the pool."""

    def __init__(self, timeout: float | None = None, *, verify: Any = True, limits: httpx.Limits = POOL_LIMITS) -> None:
        super().__init__(verify=verify, limits=limits)
        # the pool httpx builds, with httpcore's ``network_backend`` parameter (which httpx does not pass on)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )
        self.timeout = timeout

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        own = None if self.timeout is None else time.monotonic() + self.timeout
        with deadline_scope(own) as deadline:
            response = super().handle_request(request)
        response.stream = _DeadlineBody(response.stream, deadline)  # type: ignore[arg-type]
        return response


def deadline_client(timeout: float, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` over :class:`DeadlineTransport`: each request ends ``timeout`` seconds
    after it starts, or at the current :func:`deadline_scope`'s deadline (keywords: httpx.Client's)."""
    return httpx.Client(transport=DeadlineTransport(timeout), timeout=timeout, **kwargs)


class LoopPools:
    """One :class:`~aurelia.models.aio_transport.AioPool` (aiohttp's connection pool) per running
    event loop, shared by every model client of the process: the roles of a benchmark usually
    call the same server, and reuse each other's connections. A pool is made on its loop's first
    request and closed by :func:`close_loop_transports` (a run's end) or, at the latest, when
    ``asyncio.run`` shuts the loop down (its async generators are closed then, and one of them
    closes the pool). Never a connection shared across loops."""

    def __init__(self, limits: httpx.Limits = ASYNC_POOL_LIMITS) -> None:
        self.limits = limits
        self._by_loop: dict[asyncio.AbstractEventLoop, tuple[AioPool, AsyncIterator[None]]] = {}
        self._lock = threading.Lock()  # loops in other threads share the table
        self._ssl: ssl.SSLContext | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """The one SSL context of every pool (loading the CA bundle blocks for tens of ms: done once,
        when the first client is built, off the event loop)."""
        with self._lock:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            return self._ssl

    async def current(self) -> AioPool:
        """The running loop's pool (made on its first request)."""
        loop = asyncio.get_running_loop()
        entry = self._by_loop.get(loop)
        if entry is None:
            context = self.ssl_context()
            with self._lock:
                self._forget_closed_loops()
                pool = AioPool(ssl_context=context, limits=self.limits)
                closer = _close_at_shutdown(pool)
                entry = self._by_loop[loop] = (pool, closer)
            await anext(closer)  # registered with the loop: its shutdown closes the pool
        return entry[0]

    def _forget_closed_loops(self) -> None:
        """Drop the pools of loops that ended without closing them (each held its loop)."""
        for loop in [loop for loop in self._by_loop if loop.is_closed()]:
            self._by_loop.pop(loop)[0].close_now()

    async def aclose(self) -> None:
        """Close the running loop's pool (the next request opens a new one)."""
        with self._lock:
            entry = self._by_loop.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].aclose()  # the generator that closes the pool, so the loop's shutdown has nothing left

    def loops(self) -> int:
        """How many event loops hold a pool now (for tests)."""
        with self._lock:
            self._forget_closed_loops()
            return len(self._by_loop)


async def _close_at_shutdown(pool: AioPool) -> AsyncIterator[None]:
    """Started on a loop, closed by its ``shutdown_asyncgens`` (``asyncio.run``'s end): closes ``pool``."""
    try:
        yield
    finally:
        await pool.aclose()


POOLS = LoopPools()


class LoopTransport(httpx.AsyncBaseTransport):
    """The async clients' transport: each request sent through the running loop's pool
    (:data:`POOLS`) and ended by one deadline covering the whole response, the sooner of the
    current :func:`deadline_scope`'s and ``timeout`` seconds after it starts, with httpx's timeout
    errors. A model built once per process serves every loop that calls it (``asyncio.run`` per
    run, a server's loop, a test's)."""

    def __init__(self, timeout: float | None, pools: LoopPools = POOLS) -> None:
        self.timeout, self.pools = timeout, pools
        pools.ssl_context()  # built now, with the client, not on the event loop

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        own = None if self.timeout is None else time.monotonic() + self.timeout
        pool = await self.pools.current()
        return await pool.send(request, sooner(_DEADLINE.get(), own))

    async def aclose(self) -> None:
        """Closing one client leaves the loop's pool open: every other model client on the loop
        shares it, maybe with requests in flight. It closes with the run
        (:func:`close_loop_transports`) or with the loop."""

    def loops(self) -> int:
        """How many event loops hold a pool now (for tests)."""
        return self.pools.loops()


async def close_loop_transports() -> None:
    """Close the running loop's pool: its kept-alive connections end with the run, not when the
    loop is collected."""
    await POOLS.aclose()


def async_deadline_client(timeout: float, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over :class:`LoopTransport`: :func:`deadline_client` for async
    calls, usable from any event loop (keywords: httpx.AsyncClient's)."""
    return httpx.AsyncClient(transport=LoopTransport(timeout), timeout=timeout, **kwargs)


@dataclass
class RequestTally:
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


def stop_reason(limits: CallLimits, asked: float | None, delay: float | None) -> str:
    """Why a failed call is not tried again although a retry was due in ``delay`` seconds (None:
    none was due), as the tail of its error; empty when nothing but the policy stops it."""
    if limits.spent():
        return f"; the run's time budget of {limits.budget_s:g}s is spent"
    if delay is not None and asked is not None and asked > MAX_DELAY_S:
        return f"; the server asks to retry after {asked:g}s"
    if delay is not None and limits.deadline is not None and time.monotonic() + delay >= limits.deadline:
        return "; the run's time budget ends before the next try"
    return ""


class _Policy:
    """tenacity's callbacks for one logical call: retry transient faults only, wait with backoff
    (never sooner than ``Retry-After``), stop after ``limits.attempts`` or when the wait would
    pass the budget or the cap; ``why`` keeps the reason it stopped for the error."""

    def __init__(self, limits: CallLimits, tally: RequestTally) -> None:
        self.limits, self.tally, self.why = limits, tally, ""

    @staticmethod
    def retry(exc: BaseException) -> bool:
        return is_transient(exc)  # an AureliaError (the budget check, a local failure) never is

    @staticmethod
    def wait(state: tenacity.RetryCallState) -> float:
        return backoff(state.attempt_number, retry_after(state.outcome.exception()))  # type: ignore[union-attr]

    def stop(self, state: tenacity.RetryCallState) -> bool:
        due = state.upcoming_sleep if state.attempt_number < self.limits.attempts else None
        self.why = stop_reason(self.limits, retry_after(state.outcome.exception()), due)  # type: ignore[union-attr]
        return due is None or bool(self.why)

    def sleep(self, seconds: float) -> None:
        self.tally.waits.append(seconds)
        sleep(seconds)  # the module's, looked up now: tests record the waits instead

    async def asleep(self, seconds: float) -> None:
        self.tally.waits.append(seconds)
        await async_sleep(seconds)  # the module's, looked up now, as in ``sleep``

    def kwargs(self) -> dict[str, Any]:
        """tenacity's arguments but the sleep."""
        return {"retry": tenacity.retry_if_exception(self.retry), "wait": self.wait, "stop": self.stop, "reraise": True}

    def failure(self, exc: Exception, label: str, attempt: int) -> ModelCallError:
        """The one error for a call that still fails after the policy gave up."""
        why = self.why if is_transient(exc) else stop_reason(self.limits, None, None)
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        return ModelCallError(f"model {label!r} failed{tries} ({describe_failure(exc)}){why}", status=status_of(exc), attempts=attempt)


def call_with_retry(fn: Callable[[], T], limits: CallLimits, label: str, tally: RequestTally | None = None) -> T:
    """``fn()`` under the policy, each try inside ``deadline_scope(limits.deadline)``; what still
    fails becomes one ModelCallError naming ``label``."""
    policy = _Policy(limits, tally if tally is not None else RequestTally())
    attempt = 0
    try:
        for try_ in tenacity.Retrying(sleep=policy.sleep, **policy.kwargs()):
            with try_:
                limits.check_budget(label)
                attempt += 1
                policy.tally.attempts += 1
                with deadline_scope(limits.deadline):  # the budget ends a request in flight, not only the next try
                    return fn()
    except AureliaError:
        raise
    except Exception as exc:
        raise policy.failure(exc, label, attempt) from exc
    raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover


async def acall_with_retry(afn: Callable[[], Awaitable[T]], limits: CallLimits, label: str, tally: RequestTally | None = None) -> T:
    """:func:`call_with_retry` for a coroutine: ``await afn()`` under the same policy (tenacity's
    ``AsyncRetrying``, waits through :func:`async_sleep`), each try inside the same deadline scope."""
    policy = _Policy(limits, tally if tally is not None else RequestTally())
    attempt = 0
    try:
        async for try_ in tenacity.AsyncRetrying(sleep=policy.asleep, **policy.kwargs()):
            with try_:
                limits.check_budget(label)
                attempt += 1
                policy.tally.attempts += 1
                with deadline_scope(limits.deadline):
                    return await afn()
    except AureliaError:
        raise
    except Exception as exc:
        raise policy.failure(exc, label, attempt) from exc
    raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover


def request_kwargs(provider: str, timeout: float) -> dict[str, Any]:
    """Constructor arguments that give a provider's client this per-request timeout and no
    retries of its own (ours are the only ones); empty for providers we do not know. Clients
    that take an httpx client get :func:`deadline_client` and :func:`async_deadline_client`:
    ``timeout`` covers the whole response, sync or async."""
    if provider in DEADLINE_PROVIDERS:
        # http_socket_options=(): no client langchain-openai builds itself gets its own transport
        # (which prints a warning about proxies into the run's output)
        return {
            "max_retries": 0,
            "timeout": timeout,
            "http_client": deadline_client(timeout),
            "http_async_client": async_deadline_client(timeout),
            "http_socket_options": (),
        }
    if provider in {"anthropic", "groq"}:
        return {"max_retries": 0, "timeout": timeout}
    if provider == "google_genai":
        return {"retries": 0, "timeout": timeout}
    if provider == "ollama":  # ollama's Client passes these on to its httpx.Client
        return {
            "client_kwargs": {"timeout": timeout},
            "sync_client_kwargs": {"transport": DeadlineTransport(timeout)},
            "async_client_kwargs": {"transport": LoopTransport(timeout)},
        }
    return {}
