"""An httpx async transport that sends its requests over aiohttp, under one deadline per request.

Why: the hosted-model clients (the OpenAI SDK under LangChain, Ollama's) take an
``httpx.AsyncClient``, and httpcore's async pool does work in the square of its connections each
time it places a request. With hundreds of requests in flight that costs several milliseconds of
CPU per request, many times what aiohttp's connector costs (``benchmarks/http_pool.py``). Only the
bytes move to aiohttp: the SDK, LangChain, httpx's client (auth, redirects, cookies, decoding) and
the retry policy see an ordinary ``httpx.Response`` and httpx's own errors, so retries, their
counts and their messages stay as they were.

Each request comes with its deadline (:class:`aurelia.models.retry.LoopTransport` gives the sooner
of the current deadline scope's and ``timeout`` seconds after the request starts). It bounds the
connect, the send, the headers and every read of the body. A request past it raises httpx's
``ConnectTimeout`` (no connection yet) or ``ReadTimeout``, and its connection is closed, never
returned to the pool.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx

# aiohttp's faults as the httpx errors the SDKs expect (the first match wins: subclasses first)
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed status line or header
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientError, httpx.NetworkError),
    (ConnectionError, httpx.ReadError),
)


@contextmanager
def _as_httpx(request: httpx.Request, timeout: type[httpx.TimeoutException]) -> Iterator[None]:
    """aiohttp's errors as httpx's; the deadline passing (asyncio's ``TimeoutError``) as ``timeout``."""
    try:
        yield
    except TimeoutError as exc:
        if isinstance(exc, aiohttp.ServerTimeoutError):
            raise _mapped(exc)(str(exc) or "timed out", request=request) from exc
        raise timeout("the request's deadline passed", request=request) from exc
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise _mapped(exc)(str(exc) or type(exc).__name__, request=request) from exc


def _mapped(exc: BaseException) -> type[httpx.TransportError]:
    return next(to for source, to in _ERRORS if isinstance(exc, source))


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class _Body(httpx.AsyncByteStream):
    """An aiohttp response body, each read bounded by its request's deadline; a body not read to
    its end (a timeout, a reader that stops) closes the connection instead of pooling it."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request, deadline: float | None) -> None:
        self._response, self._request, self._deadline = response, request, deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                with _as_httpx(self._request, httpx.ReadTimeout):
                    async with asyncio.timeout(_left(self._deadline)):
                        chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except BaseException:
            self._response.close()
            raise

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AioPool:
    """One aiohttp session (its connection pool), on the event loop that made it; see the
    module's docstring. ``limits.max_connections`` bounds the pool, ``keepalive_expiry`` how long
    an idle connection is kept."""

    def __init__(self, *, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry if limits.keepalive_expiry is not None else 5.0,
            ssl=ssl_context,
        )
        # decoding and cookies are httpx's; no proxy from the environment, as for the sync clients
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            trust_env=False,
        )

    async def send(self, request: httpx.Request, deadline: float | None) -> httpx.Response:
        """``request`` sent and its headers read by ``deadline`` (``time.monotonic``; None: none);
        the body is read as httpx reads it, each read by the same deadline."""
        body = await request.aread()
        # within the deadline: aiohttp's ``connect`` bound names a connect timeout as such
        with _as_httpx(request, httpx.ReadTimeout):
            async with asyncio.timeout(_left(deadline)):
                response = await self.session.request(
                    request.method,
                    str(request.url.copy_with(userinfo=b"")) if request.url.userinfo else str(request.url),  # httpx sent them as a header
                    headers=list(request.headers.multi_items()),
                    data=body or None,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=None, connect=_left(deadline)),
                    skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
                )
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request, deadline),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("latin-1", "replace")},
        )

    async def aclose(self) -> None:
        await self.session.close()

    def close_now(self) -> None:
        """Mark the pool closed without its loop (the loop has ended): no 'unclosed' warning later."""
        connector = self.session.connector
        if connector is not None and not connector.closed:
            connector._close()  # the sync half of aiohttp's close; on a closed loop it only marks it closed
