"""Chat targets answer natively on the event loop (``aanswer_batch``: ``ainvoke`` under the async
retry policy, no thread pool) with the same answers as ``answer_batch``; the benchmark engine
calls them that way, on the loop's own thread, and stores the same records as through a thread."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import SimpleChatModel
from langchain_core.messages import BaseMessage
from openai_stub import openai_stub
from pydantic import Field

from aurelia.bench import run_benchmark
from aurelia.media.prepare import prepare_media
from aurelia.models.retry import close_loop_transports
from aurelia.targets import Target, TargetSample
from aurelia.targets.chat import ChatTarget
from aurelia.testing.chat import REASONING
from aurelia.testing.faults import FaultServer

CHOICES = ["red", "blue", "green"]
STAR = {"steps": [{"step": "Look at the last colour", "answer": "green"}], "final_answer": "green"}


def untimed(answer: Any) -> dict:
    data = answer.to_dict()
    data.pop("seconds")
    data.pop("timing")
    return data


def samples(media) -> list[TargetSample]:
    return [
        TargetSample(media, "Which colour comes last?", CHOICES, STAR, "steps", "a"),
        TargetSample(media, "Which colour comes first?", CHOICES, None, "none", "b"),
        TargetSample(media, "What happens?", None, STAR, "full", "c", answer_kind="sentence"),
    ]


def async_answers(target: Target, batch: list[TargetSample]) -> list:
    async def run() -> list:
        try:
            return await target.aanswer_batch(batch)
        finally:
            await close_loop_transports()

    return asyncio.run(run())


class ByQuestion(SimpleChatModel):
    """A LangChain chat model whose reply depends on the question (a batch's calls run concurrently,
    so a scripted list would be read in any order); it keeps what it was sent."""

    seen: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "by-question"

    def _call(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        text = "\n".join(str(m.content) for m in messages)
        self.seen.append(text)
        return "C" if "comes last" in text else "(A) red" if "comes first" in text else "It turns green."


def test_a_chat_target_answers_the_same_sync_and_async(clip):
    media = prepare_media(str(clip))
    sync_model, async_model = ByQuestion(), ByQuestion()
    sync = ChatTarget(sync_model).answer_batch(samples(media))
    asynchronous = async_answers(ChatTarget(async_model), samples(media))
    assert [untimed(a) for a in asynchronous] == [untimed(a) for a in sync]
    assert [a.letter for a in sync] == ["C", "A", None] and sync[2].answer == "It turns green."
    assert sorted(async_model.seen) == sorted(sync_model.seen) and len(sync_model.seen) == 3


def test_hosted_vision_target_sends_the_same_requests_async(clip):
    media = prepare_media(str(clip))
    with openai_stub(lambda model, text, body: "B" if "first" in text else "C") as stub:
        target = ChatTarget.from_string(stub.url("vlm") + "#image")  # frames, base64-encoded off the loop
        sync = target.answer_batch(samples(media)[:2])
        sent_sync, stub.requests[:] = list(stub.requests), []
        asynchronous = async_answers(target, samples(media)[:2])
        sent_async = list(stub.requests)
    assert [untimed(a) for a in asynchronous] == [untimed(a) for a in sync]
    # the batch's requests run concurrently (threads, or tasks): the same set, in any order (of
    # requests, and of keys: the async body keeps LangChain's order, see aurelia.models.openai_direct)
    same = [sorted(json.dumps(r, sort_keys=True) for r in sent) for sent in (sent_async, sent_sync)]
    assert same[0] == same[1] and [a.letter for a in sync] == ["C", "B"]
    assert any(part.get("type") == "image_url" for part in sent_sync[0]["messages"][-1]["content"])


def test_async_target_calls_retry_and_record_attempts_as_sync(clip, waits):
    media = prepare_media(str(clip))
    sample = TargetSample(media, "Colour?", CHOICES)
    with FaultServer() as server:
        got = []
        for mode in ("sync", "async"):
            server.script(f"flaky-{mode}", ["429:0", "ok"], "C")
            server.script(f"dead-{mode}", ["401"])
            flaky, dead = ChatTarget.from_string(server.url(f"flaky-{mode}")), ChatTarget.from_string(server.url(f"dead-{mode}"))
            if mode == "sync":
                (answer,), (failed,) = flaky.answer_batch([sample]), dead.answer_batch([sample])
            else:
                (answer,), (failed,) = async_answers(flaky, [sample]), async_answers(dead, [sample])
            got.append((answer.letter, answer.attempts, failed.attempts, failed.error.replace(mode, "")))
    assert got[0] == got[1] and got[0][:3] == ("C", 2, 1) and "Error code: 401" in got[0][3]
    assert len(waits) == 2  # one wait each


def manifest(folder: Path, clip: Path, n: int) -> Path:
    lines = [
        {"id": f"s{i}", "task": "av_compositional", "video": str(clip), "question": f"Which colour comes last? (#{i})", "choices": CHOICES}
        | {"answer": "green"}
        for i in range(n)
    ]
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def agent_reply(model: str, text: str, body: dict) -> str:
    return {"gen": REASONING, "sum": "red, then blue, then green", "eval": '{"score": 8, "rationale": "ok"}'}.get(model, "C")


def stored(run: Path) -> list[dict]:
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    return sorted(({k: v for k, v in r.items() if k != "seconds"} for r in records), key=lambda r: (r["id"], r["inject"]))


def test_the_engine_calls_chat_targets_on_the_loop_with_the_same_records(tmp_path, clip, requested_on, monkeypatch):
    path = manifest(tmp_path, clip, 6)
    with openai_stub(agent_reply) as stub:
        context = {"generator_model": stub.url("gen"), "summarizer_model": stub.url("sum"), "evaluator_model": stub.url("eval")}
        args = {"context": context, "concurrency": 4, "inject": "steps", "cache": tmp_path / "cache.sqlite"}
        with monkeypatch.context() as never:  # the engine never takes the thread path for a chat target
            never.setattr(ChatTarget, "answer_batch", pytest.fail)
            native = run_benchmark(path, {"t": stub.url("target")}, tmp_path / "native", **args)
        loop_requests = list(requested_on)
        with monkeypatch.context() as threaded:  # the reference: the same target answered in a thread
            threaded.setattr(ChatTarget, "aanswer_batch", Target.aanswer_batch)
            reference = run_benchmark(path, {"t": stub.url("target")}, tmp_path / "threaded", **args)
    assert native.counts.target_calls == reference.counts.target_calls == 12  # zero-shot and with r*, 6 samples
    assert stored(tmp_path / "native") == stored(tmp_path / "threaded")
    assert all(r["correct"] for r in stored(tmp_path / "native"))
    # 3 agent calls and 2 target calls per sample, every one made on the loop's own thread
    assert loop_requests == [threading.main_thread().name] * 30


def test_each_sample_in_flight_asks_all_its_answers_at_once(tmp_path, clip):
    """With 2 samples in flight and 2 modes, a chat target has 4 calls out at once: each sample's
    zero-shot and r* answers together (with 2 slots, one sample's pair would wait for the other's)."""
    together = threading.Barrier(4, timeout=10)  # each target call waits here for the other three
    met: list[bool] = []

    def reply(model: str, text: str, body: dict) -> str:
        if model == "target":
            try:
                together.wait()
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)
        return agent_reply(model, text, body)

    path = manifest(tmp_path, clip, 2)
    with openai_stub(reply) as stub:
        context = {"generator_model": stub.url("gen"), "summarizer_model": stub.url("sum"), "evaluator_model": stub.url("eval")}
        run_benchmark(path, {"t": stub.url("target")}, tmp_path / "run", context=context, concurrency=2, inject="steps")
    assert met == [True] * 4
