"""evaluator: e = E(v, a, c) — scores the caption against the media (never sees the reasoning),
records the iteration, keeps r* = argmax score (earliest on ties) and decides whether to stop."""

from __future__ import annotations

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from aurelia.boundary import without_echo
from aurelia.graph.context import Context
from aurelia.graph.state import Iteration, State
from aurelia.models.messages import build_messages
from aurelia.models.structured import call_structured, total_usage
from aurelia.nodes.common import Models, agent_call_record, traced
from aurelia.parsing import parse_evaluation
from aurelia.prompts import render
from aurelia.schemas import Evaluation
from aurelia.tracing import annotate_node_run


def best_index(iterations: list[Iteration]) -> int:
    """Index of the highest score; the earliest wins ties."""
    return max(range(len(iterations)), key=lambda i: (iterations[i]["score"], -i))


def stop_reason(score: int, iteration: int, ctx: Context) -> str | None:
    if score >= ctx.threshold:
        return "threshold"
    if iteration >= ctx.max_iterations:
        return "max_iterations"
    return None


def make_evaluator(models: Models):
    def evaluator(state: State, runtime: Runtime[Context]) -> dict:
        ctx = runtime.context or Context()
        previous = list(state.get("iterations") or [])
        iteration = len(previous) + 1
        rm = models.get("evaluator", ctx)
        prompt = render("evaluator", caption=state["draft_caption"])
        messages, received = build_messages(prompt, rm, state["media"], ctx.frame_size)

        def own_score(text: str) -> Evaluation | None:  # the evaluator's own words, never a number it quotes from its prompt
            return parse_evaluation(without_echo(text, prompt.user, prompt.system))

        result = call_structured(rm, messages, Evaluation, own_score, config=traced("evaluator", iteration, rm, state, ctx))
        if result.value is None:
            raw_score, score, rationale = None, 1, f"parse failure: could not read a score from {result.raw[:200]!r}"
        else:
            raw_score = result.value.score
            score = min(10, max(1, raw_score))
            rationale = result.value.rationale
            if score != raw_score:
                rationale += f" (score {raw_score} clamped to {score})"
        this_call = agent_call_record("evaluator", iteration, rm, result, received)
        calls = [c for c in state.get("calls") or [] if c["iteration"] == iteration and c["role"] != "feedback"] + [this_call]
        record: Iteration = {
            "iteration": iteration,
            "reasoning": state["draft_reasoning"],
            "caption": state["draft_caption"],
            "score": score,
            "raw_score": raw_score,
            "rationale": rationale,
            "status": {"generator": state.get("draft_reasoning_status", "structured"), "evaluator": result.status},
            "feedback_in": state.get("feedback"),
            "seconds": {c["role"]: c["seconds"] for c in calls},
            "usage": total_usage(c["usage"] for c in calls),
        }
        everything = [*previous, record]
        best = best_index(everything)
        reason = stop_reason(score, iteration, ctx)
        decision = {"iteration": iteration, "score": score, "best_iteration": best + 1, "stop_reason": reason}
        annotate_node_run(metadata={**decision, "threshold": ctx.threshold, "max_iterations": ctx.max_iterations})
        get_stream_writer()(decision)
        return {
            "iterations": [record],
            "calls": [this_call],
            "best_iteration": best + 1,
            "reasoning_star": everything[best]["reasoning"],
            "stop_reason": reason,
        }

    return evaluator
