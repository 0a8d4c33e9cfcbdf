"""target: s* = M(v, a, q, r*) — the target model answers with r* injected per the mode.

The answering is done by :mod:`aurelia.targets`: ``hf:<id or path>`` runs the local Hugging
Face audio-visual back-end (video + audio for omni models, frames + digest for VLMs, ...);
any other model string or a model instance given to ``build_graph`` runs as a chat model.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.graph.context import Context
from aurelia.graph.state import State
from aurelia.nodes.common import Models
from aurelia.targets import Target, TargetSample, TargetSettings
from aurelia.targets.prompt import INJECT_HEADERS, injection_text, read_answer, target_prompt
from aurelia.tracing import agent_config, annotate_node_run, run_meta

__all__ = ["INJECT_HEADERS", "injection_text", "make_target", "read_answer", "target_for", "target_prompt"]


def target_for(models: Models, ctx: Context) -> Target:
    """The target back-end for this run: an instance override, a local HF model, or a chat model."""
    from aurelia.targets.chat import ChatTarget

    settings = TargetSettings(max_new_tokens=ctx.max_tokens, frame_side=ctx.frame_size, seed=ctx.seed)
    if "target" in models.overrides:
        return ChatTarget(models.overrides["target"], settings)
    if ctx.target_model.strip().lower().startswith("hf:"):
        from aurelia.targets.hf import HFTarget

        return HFTarget(ctx.target_model.strip(), settings)
    return ChatTarget(models.get("target", ctx), settings)


def make_target(models: Models):
    def target(state: State, runtime: Runtime[Context]) -> dict:
        ctx = runtime.context or Context()
        star = state.get("reasoning_star")
        iteration = len(state.get("iterations") or [])
        meta = {**run_meta(state, ctx, iteration), "inject": ctx.inject, "best_iteration": state.get("best_iteration")}
        backend = target_for(models, ctx)
        config = agent_config("target", iteration, backend.name, meta)
        annotate_node_run(tags=config["tags"], metadata=config["metadata"])
        sample = TargetSample(state["media"], state["question"], state.get("choices"), star, ctx.inject, state.get("sample_id"))
        result = backend.answer(sample, config)
        received = result.received.labels()
        info = {
            "model": result.model,
            "inject": ctx.inject,
            "injected": result.injected,
            "raw": result.text,
            "received": received,
            "parsed": result.answer is not None,
            "sent": result.received.to_dict(),
            "seconds": result.seconds,
            "timing": result.timing,
        }
        call = {
            "role": "target",
            "iteration": iteration,
            "model": result.model,
            "seconds": result.seconds,
            "usage": result.usage,
            "received": received,
            "status": "text",
        }
        return {"answer": result.answer, "answer_choice": result.letter, "target": info, "calls": [call]}

    return target
