"""``--server URL``: the reasoning runs go to a LangGraph server through ``langgraph_sdk``.

Each sample is one stateless run (``runs.wait`` with no thread) of the server's reasoning graph
(``aurelia_reasoning`` of ``langgraph.json`` by default) with the run's Context; the reply is the
graph's output state, stored in the same cache and results store as a local run, so a resume
or a second run needs no server. The server opens the media by path: it must see the files
where the manifest says they are (the same machine, or shared storage).
"""

from __future__ import annotations

import asyncio
from dataclasses import fields
from typing import Any

from aurelia.errors import InputError, ModelConfigError
from aurelia.graph.context import Context


def _sdk() -> Any:
    try:
        import langgraph_sdk
    except ImportError as exc:
        raise ModelConfigError("--server needs the LangGraph SDK: pip install 'aurelia[studio]'") from exc
    return langgraph_sdk


def check_server(url: str, graph: str) -> None:
    """Fail before any sample when the server cannot be reached or does not serve ``graph``."""
    client = _sdk().get_sync_client(url=url)
    from langgraph_sdk.errors import NotFoundError

    try:
        found = client.assistants.search(graph_id=graph, limit=1)
    except NotFoundError as exc:
        raise InputError(f"the LangGraph server at {url} has no graph {graph!r} ({exc})") from exc
    except Exception as exc:
        raise InputError(f"no LangGraph server answers at {url} ({type(exc).__name__}: {exc})") from exc
    if not found:
        raise InputError(f"the LangGraph server at {url} has no graph {graph!r}")


def server_reasoner(url: str, graph: str = "aurelia_reasoning") -> Any:
    """An async ``reason(inputs, ctx)`` that runs the reasoning graph on the server."""
    check_server(url, graph)
    clients: dict[int, Any] = {}

    async def reason(inputs: dict[str, Any], ctx: Context) -> dict[str, Any]:
        loop = id(asyncio.get_running_loop())
        if loop not in clients:  # an async client belongs to the event loop it first runs on
            clients[loop] = _sdk().get_client(url=url)
        context = {f.name: getattr(ctx, f.name) for f in fields(Context)}
        metadata = {"sample_id": inputs.get("sample_id"), "source": "aurelia-bench"}
        return await clients[loop].runs.wait(None, graph, input=inputs, context=context, metadata=metadata)

    return reason
