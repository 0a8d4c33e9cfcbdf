"""``--server URL``: the reasoning runs go to a LangGraph server through ``langgraph_sdk``.

Each sample is one stateless run (``runs.wait`` with no thread) of the server's reasoning graph
(``aurelia_reasoning`` of ``langgraph.json`` by default) with the run's Context; the reply is the
graph's output state, stored in the same cache and results store as a local run, so a resume
or a second run needs no server. The server opens the media by path: it must see the files
where the manifest says they are (the same machine, or shared storage).

The server is not trusted more than it must be:

- every call has a deadline over the whole exchange (connect, queue, run, body): the check
  ``request_timeout`` seconds, a run its ``run_budget`` plus ``request_timeout``;
- a reply is read up to ``MAX_REPLY_BYTES`` (uncompressed: no ``gzip`` is accepted) and then
  checked (:mod:`aurelia.bench.trajectory`) before anything is cached or stored;
- the user's token for the server (``AURELIA_SERVER_TOKEN``, see docs/security.md: a server that
  names its users wants one) is sent to it; no other key goes to the server unless the user opts
  in (``send_keys``, ``--server-send-keys``): not
  the LangSmith key that ``langgraph_sdk`` would send from the environment by itself, and not a
  model URL with credentials in the Context (refused before any call instead).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import fields
from typing import Any

from aurelia.bench.loop import run_async
from aurelia.errors import AureliaError, InputError, ModelCallError, ModelConfigError, describe_failure
from aurelia.graph.context import Context
from aurelia.redact import has_url_credentials, redact_url

MAX_REPLY_BYTES = 8 << 20  # an output state with 50 iterations is a few hundred kB
MAX_BUDGET_S = 86_400.0  # the Context's bound on run_budget: the deadline when the budget is 0 (none)
KEY_VARIABLES = ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")  # what langgraph_sdk would send
SERVER_TOKEN_ENV = "AURELIA_SERVER_TOKEN"  # your token for an Aurelia server that names its users (AURELIA_API_TOKENS)


def _sdk() -> Any:
    try:
        import httpx
        from langgraph_sdk.client import LangGraphClient
    except ImportError as exc:
        raise ModelConfigError("--server needs the LangGraph SDK: pip install 'aurelia-av[studio]'") from exc
    return httpx, LangGraphClient


def server_headers(send_keys: bool) -> dict[str, str]:
    """What every request carries: no compression (the size cap is on the bytes that arrive), the
    user's token for this server (``AURELIA_SERVER_TOKEN``: made for it, so always sent) and, only
    when the user opts in, the LangGraph/LangSmith API key of the environment."""
    headers = {"Accept-Encoding": "identity"}
    token = os.environ.get(SERVER_TOKEN_ENV, "").strip()
    if token:
        headers["x-api-key"] = token
    elif send_keys:
        key = next((os.environ[v].strip() for v in KEY_VARIABLES if os.environ.get(v, "").strip()), None)
        if key:
            headers["x-api-key"] = key
    return headers


def run_deadline(ctx: Context) -> float:
    """Seconds one reasoning run on the server may take, queueing included."""
    return (ctx.run_budget or MAX_BUDGET_S) + ctx.request_timeout


def check_context(ctx: Context, send_keys: bool) -> None:
    """A model URL with credentials would go to the server inside the Context: refused unless
    the user opted in (the server's own keys are what a served graph should use)."""
    if send_keys:
        return
    for f in fields(Context):
        value = getattr(ctx, f.name)
        if isinstance(value, str) and has_url_credentials(value):
            raise InputError(
                f"{f.name} {redact_url(value)!r} holds credentials, which --server would send to the server; "
                "give a model the server holds the keys for, or add --server-send-keys"
            )


def make_client(url: str, send_keys: bool, timeout: float) -> Any:
    """A ``langgraph_sdk`` client on a transport that stops reading a reply past ``MAX_REPLY_BYTES``."""
    httpx, langgraph_client = _sdk()

    class CappedStream(httpx.AsyncByteStream):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __aiter__(self) -> AsyncIterator[bytes]:
            seen = 0
            async for chunk in self.inner:
                seen += len(chunk)
                if seen > MAX_REPLY_BYTES:
                    raise ModelCallError(f"the LangGraph server's reply is over {MAX_REPLY_BYTES} bytes; it was not read further")
                yield chunk

        async def aclose(self) -> None:
            await self.inner.aclose()

    class CappedTransport(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport(retries=2)

        async def handle_async_request(self, request: Any) -> Any:
            response = await self.inner.handle_async_request(request)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
                await response.aclose()
                raise ModelCallError(f"the LangGraph server's reply is {declared} bytes; the limit is {MAX_REPLY_BYTES}")
            response.stream = CappedStream(response.stream)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    client = httpx.AsyncClient(base_url=url, transport=CappedTransport(), timeout=httpx.Timeout(timeout), headers=server_headers(send_keys))
    return langgraph_client(client)


async def _call(what: str, url: str, deadline: float, call: Any) -> Any:
    """``call`` within ``deadline`` seconds; any failure is one typed line (URL credentials redacted)."""
    try:
        return await asyncio.wait_for(call, deadline)
    except AureliaError:
        raise
    except TimeoutError as exc:
        raise ModelCallError(f"the LangGraph server at {url} did not finish {what} within {deadline:g} s") from exc
    except Exception as exc:
        raise ModelCallError(f"the LangGraph server at {url} failed {what} ({describe_failure(exc)})") from exc


async def _check(url: str, graph: str, send_keys: bool, timeout: float) -> None:
    client = make_client(url, send_keys, timeout)
    try:
        try:
            found = await _call("the graph check", url, timeout, client.assistants.search(graph_id=graph, limit=1))
        except ModelCallError as exc:
            if "NotFound" in exc.reason or "404" in exc.reason:
                raise InputError(f"the LangGraph server at {url} has no graph {graph!r}") from exc
            raise InputError(f"no LangGraph server answers at {url} ({exc.reason})") from exc
    finally:
        await client.aclose()
    if not isinstance(found, list):
        raise InputError(f"the server at {url} did not answer as a LangGraph server (assistants/search gave {type(found).__name__})")
    if not found:
        raise InputError(f"the LangGraph server at {url} has no graph {graph!r}")


def check_server(url: str, graph: str, *, send_keys: bool = False, timeout: float = 120.0) -> None:
    """Fail before any sample when the server cannot be reached (within ``timeout`` seconds) or
    does not serve ``graph``."""
    run_async(_check(url, graph, send_keys, timeout))


def server_reasoner(url: str, graph: str = "aurelia_reasoning", *, ctx: Context | None = None, send_keys: bool = False) -> Any:
    """An async ``reason(inputs, ctx)`` that runs the reasoning graph on the server (checked first:
    the server and its graph, and that ``ctx`` sends no credentials unless ``send_keys``)."""
    ctx = ctx or Context()
    check_context(ctx, send_keys)
    check_server(url, graph, send_keys=send_keys, timeout=ctx.request_timeout)
    clients: dict[int, Any] = {}

    async def reason(inputs: dict[str, Any], ctx: Context) -> dict[str, Any]:
        check_context(ctx, send_keys)
        loop = id(asyncio.get_running_loop())
        if loop not in clients:  # an async client belongs to the event loop it first runs on
            clients[loop] = make_client(url, send_keys, ctx.request_timeout)
        context = {f.name: getattr(ctx, f.name) for f in fields(Context)}
        metadata = {"sample_id": inputs.get("sample_id"), "source": "aurelia-bench"}
        call = clients[loop].runs.wait(None, graph, input=inputs, context=context, metadata=metadata)
        reply = await _call("the reasoning run", url, run_deadline(ctx), call)
        if isinstance(reply, dict) and "__error__" in reply:  # the run failed on the server
            raise ModelCallError(f"the reasoning run failed on the LangGraph server at {url}: {str(reply['__error__'])[:300]}")
        return reply

    async def aclose() -> None:
        """Close this event loop's client (the engine calls it when its run ends)."""
        client = clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()

    reason.aclose = aclose  # type: ignore[attr-defined]
    return reason
