"""The graph under ``ainvoke`` (async nodes on the event loop) gives what ``invoke`` gives: the
same r*, trajectory, answers and call records, with LangChain fake chat models (the plain-text
path, the evaluator's re-ask, the repair prompt, the critic, the extractor) and with real
LangChain OpenAI clients against a server on 127.0.0.1 (structured output, the same requests in
the same order). A hosted model's requests are made on the loop's own thread; a model run in this
process (llama.cpp, hf) keeps its node in a thread."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from fakes import REASONING_JSON, fake
from openai_stub import openai_stub

from aurelia import Context, build_graph, build_reasoning_graph
from aurelia.graph.context import validate_context
from aurelia.models.registry import as_role_model
from aurelia.models.retry import close_loop_transports
from aurelia.nodes.common import Models

TIMES = {"seconds", "timing"}  # wall times differ from run to run; everything else must not


def untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def evaluation(score: int, why: str = "ok") -> str:
    return json.dumps({"score": score, "rationale": why})


def both(clip, models_factory, *, reasoning_only: bool = False, choices=None, **ctx) -> tuple[dict, dict, dict, dict]:
    """(invoke's output, ainvoke's output, what the sync models saw, what the async ones saw), each
    from fresh models with the same scripts."""
    builder = build_reasoning_graph if reasoning_only else build_graph
    inputs = {"video": str(clip), "question": "What colour is the screen when the audio is silent?", "choices": choices}
    sync_models, async_models = models_factory(), models_factory()
    sync = builder(models=sync_models).invoke(inputs, context=Context(**ctx))
    asynchronous = asyncio.run(builder(models=async_models).ainvoke(inputs, context=Context(**ctx)))

    def seen(models: dict) -> dict:
        return {role: [[m.content for m in msgs] for msgs in getattr(getattr(m, "model", m), "seen", [])] for role, m in models.items()}

    return untimed(sync), untimed(asynchronous), seen(sync_models), seen(async_models)


def test_the_loop_with_feedback_re_ask_and_extractor_is_the_same_under_ainvoke(clip):
    def models() -> dict:
        return {
            # iteration 1: prose the reader parses; iteration 2: unreadable, then repaired
            "generator": fake("Step 1: look at the end. Answer: green\nFinal answer: green", "no idea", REASONING_JSON),
            "summarizer": fake("cap 1", "cap 2"),
            # 85 is outside 1-10: re-asked; then 3 (fed back), then 8
            "evaluator": fake(evaluation(85), evaluation(3, "wrong colours"), evaluation(8)),
            "feedback": fake("Mention the green frames."),
            "target": fake("Hard to say from here."),
            "extractor": fake("B"),
        }

    sync, asynchronous, seen_sync, seen_async = both(clip, models, choices=["red", "green"], threshold=6, max_iterations=3)
    assert asynchronous == sync
    assert seen_async == seen_sync  # the same prompts, in the same order, to every role
    statuses = [(it["status"]["generator"], it["evaluator_attempts"][0]["problem"] is not None) for it in sync["iterations"]]
    assert statuses == [("parsed", True), ("repaired", False)]  # the paths this test is about were taken
    assert [it["score"] for it in sync["iterations"]] == [3, 8] and sync["best_iteration"] == 2
    assert sync["answer_extracted"]["source"] == "extractor" and {c["role"] for c in sync["calls"]} >= {"feedback", "extractor"}


def test_vision_evaluator_and_zero_shot_baseline_are_the_same_under_ainvoke(clip):
    def models() -> dict:
        vision = as_role_model(fake(evaluation(9)), name="v", modalities=frozenset({"text", "image", "audio"}))
        return {"generator": fake(REASONING_JSON), "summarizer": fake("c"), "evaluator": vision, "target": fake("A")}

    sync, asynchronous, seen_sync, seen_async = both(clip, models)
    assert asynchronous == sync and seen_async == seen_sync
    assert any(r.startswith("frames:") for r in next(c["received"] for c in sync["calls"] if c["role"] == "evaluator"))
    baseline = both(clip, models, inject="none")
    assert baseline[1] == baseline[0] and [c["role"] for c in baseline[0]["calls"]] == ["target"]


def reply(model: str, text: str, body: dict) -> str:
    """The stub server's scripted agents: structured JSON for the generator and the evaluator."""
    if model == "gen":
        return REASONING_JSON
    if model == "eval":
        return evaluation(4 if "first caption" in text else 9, "checked")
    if model == "sum":
        return "first caption" if "Look at the colour" in text and "look again" not in text else "second caption"
    return "B"


def test_hosted_models_give_the_same_requests_and_result_under_ainvoke(clip, requested_on):
    with openai_stub(reply) as stub:
        ctx = {
            "generator_model": stub.url("gen"),
            "summarizer_model": stub.url("sum"),
            "evaluator_model": stub.url("eval"),
            "threshold": 6,
            "max_iterations": 2,
        }
        inputs = {"video": str(clip), "question": "What colour is the screen?"}
        graph = build_reasoning_graph()
        sync = graph.invoke(inputs, context=Context(**ctx))
        sent_sync, stub.requests[:] = list(stub.requests), []

        async def run() -> dict:
            try:
                return await graph.ainvoke(inputs, context=Context(**ctx))
            finally:
                await close_loop_transports()

        asynchronous = asyncio.run(run())
        sent_async = list(stub.requests)
    assert untimed(asynchronous) == untimed(sync)
    assert sent_async == sent_sync and len(sent_sync) == 6  # 2 iterations x (generator, summarizer, evaluator)
    assert sync["iterations"][0]["status"] == {"generator": "structured", "evaluator": "structured"}
    # every async request was made on the loop's own thread: no thread per node or per call
    assert requested_on == [threading.main_thread().name] * 6


def test_only_models_run_in_this_process_keep_their_node_in_a_thread(monkeypatch):
    models = Models({"summarizer": fake("c")})
    ctx = validate_context(Context(generator_model="local", evaluator_model="http://127.0.0.1:9/v1?model=m", target_model="hf:some/model"))
    assert models.in_process("generator", ctx) and models.in_process("target", ctx)
    assert not models.in_process("evaluator", ctx) and not models.in_process("summarizer", ctx)


def test_a_served_graph_makes_no_blocking_call_on_the_event_loop(clip, monkeypatch):
    """What ``langgraph dev`` checks (blockbuster): a served run's async nodes leave the policy's
    path resolution, first model builds and media probing to threads."""
    from blockbuster import BlockBuster

    with openai_stub(reply) as stub:
        monkeypatch.setenv("AURELIA_ALLOWED_MODELS", f"{stub.url('gen')},{stub.url('sum')},{stub.url('eval')},{stub.url('target')}")
        monkeypatch.setenv("AURELIA_MEDIA_ROOT", str(clip.parent))
        ctx = Context(
            generator_model=stub.url("gen"),
            summarizer_model=stub.url("sum"),
            evaluator_model=stub.url("eval"),
            target_model=stub.url("target"),
            request_timeout=31.0,  # a model key no other test built: its first build is in this run
            max_iterations=1,
        )
        graph = build_graph(served=True)

        async def run() -> dict:
            blocker = BlockBuster()
            blocker.activate()
            try:
                return await graph.ainvoke({"video": clip.name, "question": "What colour?", "choices": ["red", "blue"]}, context=ctx)
            finally:
                blocker.deactivate()
                await close_loop_transports()

        out = asyncio.run(run())
    assert out["answer"] == "blue" and [c["role"] for c in out["calls"]] == ["generator", "summarizer", "evaluator", "target"]
