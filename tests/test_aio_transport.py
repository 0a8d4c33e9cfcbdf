"""The async clients send over aiohttp (aurelia.models.aio_transport) and a server cannot tell:
the same headers as the sync client (URL credentials included), compressed bodies decoded by
httpx as before, refused connections failing as the sync call fails, and each loop's pool
closed when ``asyncio.run`` ends even when the run does not close it itself."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from langchain_core.messages import HumanMessage

from aurelia.errors import ModelCallError
from aurelia.models.registry import resolve_model
from aurelia.models.retry import POOLS, LoopTransport, close_loop_transports
from aurelia.models.structured import acall_text, call_text
from aurelia.testing.faults import FaultServer, LoopbackServer, QuietHandler, completion_json

SAME_EVERY_TIME = {"authorization", "content-type", "accept", "content-length", "host", "x-stainless-lang", "x-stainless-retry-count"}


async def text(rm) -> str:
    try:
        return (await acall_text(rm, [HumanMessage("hi")])).value
    finally:
        await close_loop_transports()


def test_the_server_sees_the_same_headers_sync_and_async_credentials_included():
    with FaultServer() as server:
        for userinfo in ("", "bench:s3cretpw"):
            model = f"headers-{bool(userinfo)}"
            server.script(model, ["ok"], "fine")
            rm = resolve_model(server.url(model, userinfo), 5.0, False)
            assert call_text(rm, [HumanMessage("hi")]).value == asyncio.run(text(rm)) == "fine"
            sync, asynchronous = (s.headers for s in server.seen if s.model == model)
            assert {k: sync.get(k) for k in SAME_EVERY_TIME} == {k: asynchronous.get(k) for k in SAME_EVERY_TIME}
            if userinfo:  # httpx turns URL credentials into Basic auth; they never travel in the URL
                assert asynchronous["authorization"].startswith("Basic ")


class GzipHandler(QuietHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = gzip.compress(completion_json("gz", "compressed reply"))
        self.send_response(200)
        for name, value in (("Content-Type", "application/json"), ("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def test_a_compressed_reply_is_decoded_as_httpx_decodes_it():
    with LoopbackServer(GzipHandler) as server:
        rm = resolve_model(f"{server.base_url}/v1?model=gz", 5.0, False)
        assert asyncio.run(text(rm)) == call_text(rm, [HumanMessage("hi")]).value == "compressed reply"


def test_a_refused_connection_fails_as_the_sync_call_does(waits):
    with LoopbackServer(GzipHandler) as server:
        url = f"{server.base_url}/v1?model=gone"
    rm = resolve_model(url, 5.0, False)  # the server is gone: nothing listens on its port
    with pytest.raises(ModelCallError) as sync:
        call_text(rm, [HumanMessage("hi")])
    with pytest.raises(ModelCallError) as asynchronous:
        asyncio.run(text(rm))
    assert str(asynchronous.value) == str(sync.value) and "after 3 attempts" in str(sync.value)
    assert len(waits) == 4  # two waits between three attempts, sync and async alike (recorded, not slept)


def test_a_loop_that_ends_without_closing_its_pool_closes_it_at_shutdown():
    with FaultServer() as server:
        server.script("left-open", ["ok"], "fine")
        rm = resolve_model(server.url("left-open"), 5.0, False)
        transport = rm.model.http_async_client._transport
        assert isinstance(transport, LoopTransport)

        async def without_closing():
            reply = (await acall_text(rm, [HumanMessage("hi")])).value
            pool = await transport.pools.current()
            assert not pool.session.closed
            return reply, pool

        reply, pool = asyncio.run(without_closing())
        assert reply == "fine" and pool.session.closed  # closed by the loop's shutdown
        assert transport.loops() == 0  # and forgotten


def test_closing_one_client_leaves_the_shared_pool_to_the_others():
    with FaultServer() as server:
        server.script("closer", ["ok"], "one")
        server.script("other", ["ok"], "two")
        closer = resolve_model(server.url("closer"), 5.0, False)
        other = resolve_model(server.url("other"), 5.0, False)

        async def calls():
            assert (await acall_text(closer, [HumanMessage("hi")])).value == "one"
            pool = await POOLS.current()
            await closer.model.http_async_client.aclose()  # an app closing one model's client
            reply = (await acall_text(other, [HumanMessage("hi")])).value
            still = await POOLS.current()
            await close_loop_transports()
            return reply, pool, still

        reply, pool, still = asyncio.run(calls())
        assert reply == "two" and still is pool  # the other model kept the loop's pool and its connections
        assert pool.session.closed  # until the run closed it
