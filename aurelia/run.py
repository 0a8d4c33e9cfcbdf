"""The Python API for one run: ``aurelia.run(video, question, ...)`` -> result dict."""

from __future__ import annotations

import inspect
import sys
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from aurelia.errors import InputError
from aurelia.graph.builder import build_graph
from aurelia.graph.context import Context, make_context
from aurelia.models.registry import RoleModel
from aurelia.nodes.common import Models
from aurelia.redact import redact_deep

OnEvent = Callable[[dict[str, Any]], None]
"""A progress observer: called with each run event (see ``stream_graph``) while the run goes on."""

INTERNAL_KEYS = {"draft_reasoning", "draft_reasoning_status", "draft_caption", "feedback", "review_requested", "__interrupt__"}


def public_state(values: Mapping[str, Any]) -> dict[str, Any]:
    """The state a caller sees: without the drafts and flags the nodes keep for themselves."""
    return {k: v for k, v in values.items() if k not in INTERNAL_KEYS}


SAMPLE_QUESTION = "What colour is the screen while the audio is silent?"
SAMPLE_CHOICES = ["red", "blue", "green", "black"]


def sample_clip() -> Path:
    """The 9-second clip that ships with the package (red + 440 Hz tone, blue + beeps, green + silence)."""
    return Path(str(resources.files("aurelia").joinpath("data/sample.mp4")))


def public_context(ctx: Context) -> dict[str, Any]:
    """The settings as a result or a thread table records them: model URLs without credentials."""
    return redact_deep({f.name: getattr(ctx, f.name) for f in fields(Context)})


def check_review(ctx: Context, reasoning_only: bool) -> None:
    """Review pauses before injection: the reasoning-only graph has no injection to pause for."""
    if ctx.review and reasoning_only:
        raise InputError("review pauses before injection, and a reasoning-only run injects nothing: drop one of the two")


def run(
    video: str | Path,
    question: str,
    *,
    audio: str | Path | None = None,
    choices: list[str] | None = None,
    context: Context | Mapping[str, Any] | None = None,
    models: Mapping[str, BaseChatModel | RoleModel] | None = None,
    reasoning_only: bool = False,
    sample_id: str | None = None,
    audio_candidates: list[str | Path] | None = None,
    on_event: OnEvent | None = None,
) -> dict[str, Any]:
    """Run the graph once; returns the final state plus per-node timings (``node_seconds``).
    ``on_event`` sees the run as it goes (node starts, scored iterations, the stop reason)."""
    ctx = make_context(context)
    check_review(ctx, reasoning_only)
    if ctx.review:
        raise InputError("review pauses the run for a human: use aurelia.durable.run_thread (CLI: --thread) so that it can be resumed")
    graph = build_graph(models=models, reasoning_only=reasoning_only)
    inputs = make_inputs(video, question, audio, choices, sample_id, audio_candidates)
    return stream_graph(graph, inputs, ctx, run_config(sample_id), on_event=on_event, models=models)


def make_inputs(
    video: str | Path,
    question: str,
    audio: str | Path | None,
    choices: list[str] | None,
    sample_id: str | None,
    audio_candidates: list[str | Path] | None = None,
) -> dict[str, Any]:
    inputs = {
        "video": str(video),
        "question": question,
        "audio": str(audio) if audio else None,
        "choices": choices or None,
        "sample_id": sample_id,
    }
    if audio_candidates:
        inputs["audio_candidates"] = [str(p) for p in audio_candidates]
    return inputs


def run_config(sample_id: str | None, **configurable: Any) -> dict[str, Any]:
    """The run's config: its LangSmith name, tags and metadata (and e.g. a thread id)."""
    config: dict[str, Any] = {"run_name": "aurelia", "tags": ["aurelia"], "metadata": {"sample_id": sample_id}}
    if configurable:
        config["configurable"] = configurable
    return config


LOOP_NODES = frozenset({"generator", "summarizer", "evaluator", "feedback"})


class RunEvents:
    """Turns the graph's stream (task starts and node updates) into progress events for an
    ``on_event`` observer; each is a dict with an ``event`` key:

    - ``node``: a node started: ``node``, ``model`` (its label, None without a model) and
      ``iteration`` (the loop iteration it works on, None outside the loop);
    - ``done``: that node finished: the same fields and ``seconds``;
    - ``iteration``: the evaluator scored an iteration: ``iteration``, ``score``, ``seconds`` (its
      agent calls), ``caption``, ``rationale``, ``best_iteration``, ``stop_reason``;
    - ``stop``: the loop stopped: ``stop_reason``, ``best_iteration``.
    """

    def __init__(self, on_event: OnEvent, ctx: Context, models: Mapping[str, BaseChatModel | RoleModel] | None) -> None:
        self.on_event, self.ctx, self.models = on_event, ctx, Models(models)
        self.running: dict[str, tuple[dict[str, Any], float]] = {}  # node -> its start event and time

    def task(self, chunk: Mapping[str, Any]) -> None:
        if "input" not in chunk:  # a task's result: its update carries what is shown
            return
        node = chunk["name"]
        if node == "review" and not self.ctx.review:
            return  # passes straight through unless a human review was asked for
        done = len((chunk["input"] or {}).get("iterations") or []) if isinstance(chunk["input"], Mapping) else 0
        model = self.models.label(node, self.ctx) if node in (*LOOP_NODES, "target") else None
        event = {"event": "node", "node": node, "model": model, "iteration": done + 1 if node in LOOP_NODES else None}
        self.running[node] = (event, time.perf_counter())
        self.on_event(event)

    def update(self, node: str, update: Any) -> None:
        if node in self.running:
            started, at = self.running.pop(node)
            self.on_event({**started, "event": "done", "seconds": round(time.perf_counter() - at, 3)})
        if not isinstance(update, Mapping):
            return
        if node == "evaluator" and update.get("iterations"):
            it = update["iterations"][-1]
            self.on_event(
                {
                    "event": "iteration",
                    "iteration": it["iteration"],
                    "score": it["score"],
                    "seconds": round(sum(it.get("seconds", {}).values()), 3),
                    "caption": it["caption"],
                    "rationale": it["rationale"],
                    "best_iteration": update.get("best_iteration"),
                    "stop_reason": update.get("stop_reason"),
                }
            )
        if update.get("stop_reason"):
            self.on_event({"event": "stop", "stop_reason": update["stop_reason"], "best_iteration": update.get("best_iteration")})


def stream_graph(
    graph: Any,
    inputs: Any,
    ctx: Context,
    config: Mapping[str, Any] | None = None,
    *,
    durability: str | None = None,
    on_event: OnEvent | None = None,
    models: Mapping[str, BaseChatModel | RoleModel] | None = None,
) -> dict[str, Any]:
    """Stream a run (or its resumption) to the end or to an interrupt; returns the state plus
    ``node_seconds``, ``total_seconds``, ``context`` and, when paused, ``interrupt``, with any
    key or URL credential redacted. With ``on_event``, the run's progress goes to it as it
    happens (see :class:`RunEvents`); ``models`` are the instances the graph was built with, to
    name them. The run's time budget starts now."""
    ctx = replace(ctx)
    result: dict[str, Any] = {}
    node_seconds: dict[str, float] = {}
    interrupt: Any = None
    kwargs: dict[str, Any] = {"durability": durability} if durability else {}
    events = RunEvents(on_event, ctx, models) if on_event is not None else None
    modes = ["updates", "values", "tasks"] if events is not None else ["updates", "values"]
    start = last = time.perf_counter()
    for mode, chunk in graph.stream(inputs, config=dict(config or {}), context=ctx, stream_mode=modes, **kwargs):
        now = time.perf_counter()
        if mode == "tasks" and events is not None:
            events.task(chunk)
        elif mode == "updates":
            for node in chunk:
                if node == "__interrupt__":
                    interrupt = chunk[node][0].value
                    continue
                node_seconds[node] = round(node_seconds.get(node, 0.0) + now - last, 3)
                if events is not None:
                    events.update(node, chunk[node])
            last = now
        elif mode == "values":
            result = public_state(chunk)
    result["node_seconds"] = node_seconds
    result["total_seconds"] = round(time.perf_counter() - start, 3)
    result["context"] = public_context(ctx)
    if interrupt is not None:
        result["interrupt"] = interrupt
    return redact_deep(result)


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`run`: ``aurelia.run(video, question)`` runs the graph and
    ``aurelia.run.RunEvents`` (any name here) is still reachable by its module path."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return run(*args, **kwargs)


__signature__ = inspect.signature(run)  # what inspect.signature(aurelia.run) and help() show
sys.modules[__name__].__class__ = _CallableModule
