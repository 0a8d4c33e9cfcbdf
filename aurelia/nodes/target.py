"""target: s* = M(v, a, q, r*) — the target model answers with r* injected per the mode.

The answering is done by :mod:`aurelia.targets`: ``hf:<id or path>`` runs the local Hugging
Face audio-visual back-end (video + audio for omni models, frames + digest for VLMs, ...);
any other model string or a model instance given to ``build_graph`` runs as a chat model.
With an extractor model, a multiple-choice reply the rules cannot read is read by it too,
recorded apart in ``answer_extracted``.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.graph.context import Context
from aurelia.graph.state import State
from aurelia.media.received import Received
from aurelia.models.registry import backend_for
from aurelia.models.retry import deadline_scope
from aurelia.models.structured import Call, Steps
from aurelia.nodes.common import GraphNode, Models, agent_call_record, call_record, graph_node
from aurelia.targets import Target, TargetAnswer, TargetSample, load_target
from aurelia.targets.extract import extract_steps
from aurelia.tracing import agent_config, annotate_node_run, run_meta


def target_for(models: Models, ctx: Context) -> Target:
    """The target back-end for this run: an instance given to ``build_graph``, a local HF model
    (``hf:``), or the context's chat model with this run's target reply length, temperature and seed."""
    settings = ctx.target_settings()
    if "target" in models.overrides:
        return load_target(models.overrides["target"], settings)
    if backend_for(ctx.target_model).media_target:
        return load_target(ctx.target_model, settings)
    return load_target(models.get("target", ctx), settings)


def answer_step(backend: Target, sample: TargetSample, config: dict, deadline: float | None) -> Call:
    """The target's answer within the run's deadline (a local hf: target stops between decoding
    steps when the budget is spent): ``answer`` in the sync driver, ``aanswer`` in the async one."""

    def run() -> TargetAnswer:
        with deadline_scope(deadline):
            return backend.answer(sample, config)

    async def arun() -> TargetAnswer:
        with deadline_scope(deadline):
            return await backend.aanswer(sample, config)

    return Call(run, arun)


def make_target(models: Models) -> GraphNode:
    def target(state: State, runtime: Runtime[Context]) -> Steps[dict]:
        ctx = runtime.context or Context()
        star = state.get("reasoning_star")
        iteration = len(state.get("iterations") or [])
        meta = {**run_meta(state, ctx, iteration), "inject": ctx.inject, "best_iteration": state.get("best_iteration")}
        backend = target_for(models, ctx)
        config = agent_config("target", iteration, backend.name, meta)
        annotate_node_run(tags=config["tags"], metadata=config["metadata"])
        sample = TargetSample(
            state["media"],
            state["question"],
            state.get("choices"),
            star,
            ctx.inject,
            state.get("sample_id"),
            answer_kind=ctx.answer_kind,
            inject_position=ctx.inject_position,
        )
        limits = models.limits(ctx)
        limits.check_budget(backend.name)
        result = yield answer_step(backend, sample, config, limits.deadline)
        received = result.received.labels()
        info = {
            "model": result.model,
            "inject": ctx.inject,
            "inject_position": ctx.inject_position,
            "injected": result.injected,
            "raw": result.text,
            "received": received,
            "parsed": result.answer is not None,
            "sent": result.received.to_dict(),
            "seconds": result.seconds,
            "timing": result.timing,
        }
        call = call_record(
            "target", iteration, result.model, result.seconds, result.usage, result.received, "text", result.sampling, result.attempts
        )
        update = {"answer": result.answer, "answer_choice": result.letter, "target": info, "calls": [call]}
        if sample.choices and models.has("extractor", ctx):
            rm = models.get("extractor", ctx)
            extracted, extractor_call = yield from extract_steps(
                rm, result, sample, agent_config("extractor", iteration, rm.spec.label, meta)
            )
            update["answer_extracted"] = extracted
            if extractor_call is not None:
                update["calls"].append(agent_call_record("extractor", iteration, rm, extractor_call, Received()))
        return update

    return graph_node("target", target, models, ("target", "extractor"))  # a local hf: target loads and runs in a thread
