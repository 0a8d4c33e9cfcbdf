"""The async path of a model call asks the same requests and gets the same result as the sync
one: the retry policy (what is retried, how often, the waits it records, Retry-After, the budget),
the one deadline per request, and the structured-output ladder (plain-text fallback, repair),
against the same fault server on 127.0.0.1 (aurelia.testing.faults). Waits are recorded, not slept."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import pytest
from langchain_core.messages import HumanMessage

from aurelia.errors import ModelCallError
from aurelia.models import retry
from aurelia.models.registry import resolve_model
from aurelia.models.retry import CallLimits, LoopTransport, acall_with_retry, close_loop_transports
from aurelia.models.structured import acall_structured, acall_text, call_structured, call_text
from aurelia.parsing import parse_evaluation
from aurelia.schemas import Evaluation
from aurelia.testing.faults import FaultServer, until

EVALUATION = '{"score": 7, "rationale": "the caption matches"}'


@pytest.fixture(scope="module")
def server():
    with FaultServer() as srv:
        yield srv


def outcome(fn, *args):
    """(value or error text, attempts, status) of one logical call."""
    try:
        result = fn(*args)
    except ModelCallError as exc:
        return str(exc), exc.attempts, "error"
    value = result.value.model_dump() if hasattr(result.value, "model_dump") else result.value
    return (value, result.raw), result.attempts, result.status


def both(server: FaultServer, name: str, behaviours: list[str], waits: list[float], call, acall, reply: str = "fine", timeout: float = 5.0):
    """The outcome, request count and recorded waits of the sync call, then of the async one, each
    against a fresh copy of the same script."""
    got = []
    for mode in ("sync", "async"):
        model = f"{name}-{mode}"
        server.script(model, behaviours, reply)
        rm = resolve_model(server.url(model), timeout, False)
        waits.clear()
        if mode == "sync":
            result = outcome(call, rm)
        else:
            result = outcome(lambda rm: asyncio.run(acall(rm)), rm)
        text = result[0].replace(model, name) if isinstance(result[0], str) else result[0]  # the error names the model
        got.append(((text, *result[1:]), server.count(model), len(waits), [w >= 3.0 for w in waits]))
    return got


def text_call(rm):
    return call_text(rm, [HumanMessage("hi")])


async def atext_call(rm):
    try:
        return await acall_text(rm, [HumanMessage("hi")])
    finally:
        await close_loop_transports()


@pytest.mark.parametrize(
    ("name", "behaviours"),
    [
        ("ok", ["ok"]),
        ("rate-limited", ["429", "ok"]),
        ("unavailable", ["503", "503", "ok"]),
        ("always-503", ["503"]),
        ("hangs-once", ["hang", "ok"]),
        ("dropped", ["drop", "ok"]),
        ("truncated", ["truncated", "ok"]),
        ("bad-request", ["400", "ok"]),
        ("bad-key", ["401", "ok"]),
        ("asks-too-long", ["429:600", "ok"]),
        ("after-3", ["429:3", "ok"]),
    ],
)
def test_each_fault_costs_the_same_requests_and_waits_async(server, waits, name, behaviours):
    sync, asynchronous = both(server, name, behaviours, waits, text_call, atext_call, timeout=0.5 if "hang" in name else 5.0)
    assert sync == asynchronous
    if name == "after-3":  # never sooner than the server asked
        assert asynchronous[3] == [True]


def evaluation_call(rm):
    return call_structured(rm, [HumanMessage("score it")], Evaluation, parse_evaluation)


async def aevaluation_call(rm):
    try:
        return await acall_structured(rm, [HumanMessage("score it")], Evaluation, parse_evaluation)
    finally:
        await close_loop_transports()


@pytest.mark.parametrize(
    ("name", "behaviours", "reply", "status"),
    [
        ("struct", ["ok"], EVALUATION, "structured"),
        ("struct-flaky", ["503", "ok"], EVALUATION, "structured"),
        ("struct-503", ["503"], EVALUATION, "error"),
        ("no-tools", ["400", "ok"], "Score: 6/10, close enough", "parsed"),  # the plain-text fallback
        ("mute", ["empty"], "", "failed"),  # the repair prompt, then failed
    ],
)
def test_structured_calls_take_the_same_path_async(server, waits, name, behaviours, reply, status):
    sync, asynchronous = both(server, name, behaviours, waits, evaluation_call, aevaluation_call, reply=reply)
    assert sync == asynchronous and sync[0][2] == status


def test_the_async_budget_is_checked_before_every_attempt(server, waits, monkeypatch):
    server.script("a-budget", ["ok"])
    rm = resolve_model(server.url("a-budget"), 5.0, False)
    spent = CallLimits(deadline=time.monotonic() - 1, budget_s=5)
    with pytest.raises(ModelCallError, match="time budget of 5s is spent"):
        asyncio.run(acall_with_retry(lambda: rm.model.ainvoke("hi"), spent, "m"))
    assert server.count("a-budget") == 0
    monkeypatch.setattr(retry, "backoff", lambda attempt, asked: 60.0)  # a wait longer than the budget left
    server.script("a-budget-503", ["503"])
    failing = resolve_model(server.url("a-budget-503"), 5.0, False)
    ending = CallLimits(deadline=time.monotonic() + 30, budget_s=30)
    with pytest.raises(ModelCallError, match="budget ends before the next try"):
        asyncio.run(acall_with_retry(lambda: failing.model.ainvoke("hi"), ending, "m"))
    assert server.count("a-budget-503") == 1 and not waits


def test_an_async_drip_is_cut_by_the_same_deadline_with_the_same_error(waits):
    with FaultServer() as srv:
        srv.script("drip", ["drip"])
        rm = resolve_model(srv.url("drip"), 0.5, False)
        with pytest.raises(ModelCallError, match="failed after 3 attempts") as sync:
            call_text(rm, [HumanMessage("hi")])
        with pytest.raises(ModelCallError, match="failed after 3 attempts") as asynchronous:
            asyncio.run(atext_call(rm))
        assert str(asynchronous.value) == str(sync.value) and "timed out" in str(sync.value).lower()
        assert srv.count("drip") == 6  # 3 requests each
        assert until(lambda: len(srv.cut_off) == 6), srv.cut_off  # every cut response's connection closed by the client

        srv.script("drip-budget", ["drip"])
        slow = resolve_model(srv.url("drip-budget"), 600.0, False)  # the request timeout alone would wait 10 minutes
        limited = replace(slow, limits=CallLimits(deadline=time.monotonic() + 1.0, budget_s=1.0))
        with pytest.raises(ModelCallError, match=r"failed \(.*timed out.*\); the run's time budget of 1s is spent"):
            asyncio.run(atext_call(limited))
        assert srv.count("drip-budget") == 1 and not waits[6:]  # cut in flight, not retried
        assert until(lambda: srv.cut_off.count("drip-budget") == 1)


def test_one_pool_per_event_loop_reused_within_it_and_closed_with_the_run(server):
    server.script("pooled", ["ok"], "fine")
    rm = resolve_model(server.url("pooled"), 5.0, False)
    transport = rm.model.http_async_client._transport
    assert isinstance(transport, LoopTransport)

    async def calls(n: int) -> tuple[list[str], int]:
        replies = await asyncio.gather(*(acall_text(rm, [HumanMessage("hi")]) for _ in range(n)))
        pools = transport.loops()
        await close_loop_transports()
        return [r.value for r in replies], pools

    for _ in range(2):  # a second asyncio.run is a new loop: it gets a new pool, not the first loop's connections
        values, pools = asyncio.run(calls(8))
        assert values == ["fine"] * 8 and pools == 1
    assert transport.loops() == 0  # each run's pool closed when it ended

    seen: list[int] = []  # a loop in another thread gets its own pool too
    worker = threading.Thread(target=lambda: seen.append(asyncio.run(calls(2))[1]))
    worker.start()
    worker.join()
    assert seen == [1]
