"""evaluator: e = E(v, a, c) — scores the caption against the media (never sees the reasoning),
records the iteration, keeps r* = argmax score (earliest on ties) and decides whether to stop.

A reply without a usable score (none readable, or one outside 1–10 such as 85 on a 0–100
scale) is re-asked once; if that fails too the iteration is *unscored*: score None, never a
stand-in number. Unscored iterations count toward T, are not r* unless every iteration is
unscored, and are not fed back to the generator as criticism.
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from aurelia.graph.context import Context
from aurelia.graph.state import Iteration, State
from aurelia.models.registry import RoleModel
from aurelia.models.structured import CallResult, Steps, drive, messages_step, structured_steps, total_usage
from aurelia.nodes.common import GraphNode, Models, agent_call_record, graph_node, traced
from aurelia.parsing import find_leaks, parse_evaluation, read_evaluation
from aurelia.prompts import get_prompt_set, render
from aurelia.schemas import Evaluation, Score
from aurelia.tracing import annotate_node_run

ASKS = 2  # the first ask and one re-ask


def sum_seconds(calls: list[dict]) -> dict[str, float]:
    total: dict[str, float] = {}
    for call in calls:
        total[call["role"]] = round(total.get(call["role"], 0.0) + call["seconds"], 3)
    return total


def best_index(iterations: list[Iteration]) -> int:
    """Index of the highest score, the earliest on ties; unscored iterations only count when
    every iteration is unscored (then the first)."""
    scored = [i for i, it in enumerate(iterations) if it["score"] is not None]
    if not scored:
        return 0
    return max(scored, key=lambda i: (iterations[i]["score"], -i))


def stop_reason(score: int | None, iteration: int, ctx: Context) -> str | None:
    if ctx.early_stop and score is not None and score >= ctx.threshold:
        return "threshold"
    if iteration >= ctx.max_iterations:
        return "max_iterations"
    return None


def read_score(result: CallResult) -> tuple[int | None, str | None]:
    """(score as written, problem): a problem when no score was read or it is outside 1–10."""
    if result.value is None:
        return None, f"no score could be read from {result.raw.strip()[:160]!r}"
    raw = result.value.score
    if not 1 <= raw <= 10:
        return raw, f"the score {raw} is outside 1 to 10"
    return raw, None


def evaluate(
    rm: RoleModel,
    messages: list[BaseMessage],
    schema: type[Score],
    prompt_set: str,
    config: RunnableConfig,
    parse: Callable[[str], Score | None] = parse_evaluation,
) -> tuple[list[CallResult], list[dict]]:
    """Ask, and re-ask once (showing the unusable reply and why) when the score is unusable;
    ``parse`` reads a score from a plain-text reply."""
    return drive(evaluate_steps(rm, messages, schema, prompt_set, config, parse))


def evaluate_steps(
    rm: RoleModel,
    messages: list[BaseMessage],
    schema: type[Score],
    prompt_set: str,
    config: RunnableConfig,
    parse: Callable[[str], Score | None] = parse_evaluation,
) -> Steps[tuple[list[CallResult], list[dict]]]:
    """The steps of :func:`evaluate` (each ask is a structured call's steps)."""
    results: list[CallResult] = []
    attempts: list[dict] = []
    for ask in range(ASKS):
        if ask:
            reask = render("reask", prompt_set=prompt_set, problem=attempts[-1]["problem"])
            messages = [*messages, AIMessage(content=results[-1].raw or "(empty)"), HumanMessage(content=reask.user)]
            config = {**config, "run_name": f"{config.get('run_name', 'evaluator')} re-ask"}
        result = yield from structured_steps(rm, messages, schema, parse, config)
        raw, problem = read_score(result)
        results.append(result)
        attempts.append({"raw_score": raw, "status": result.status, "problem": problem})
        if problem is None:
            break
    return results, attempts


def make_evaluator(models: Models) -> GraphNode:
    def evaluator(state: State, runtime: Runtime[Context]) -> Steps[dict]:
        ctx = runtime.context or Context()
        previous = list(state.get("iterations") or [])
        iteration = len(previous) + 1
        rm = models.get("evaluator", ctx)
        schema = Evaluation if get_prompt_set(ctx.prompt_set).evaluator_rationale else Score
        prompt = render("evaluator", prompt_set=ctx.prompt_set, caption=state["draft_caption"])
        messages, received = yield messages_step(prompt, rm, state["media"], ctx.frame_size)

        def own_score(text: str) -> Evaluation | None:  # the evaluator's own words, never a number it quotes from its prompt
            return read_evaluation(text, prompt.user, prompt.system)

        config = traced("evaluator", iteration, rm, state, ctx)
        results, attempts = yield from evaluate_steps(rm, messages, schema, ctx.prompt_set, config, own_score)
        last = attempts[-1]
        score = last["raw_score"] if last["problem"] is None else None
        these_calls = [agent_call_record("evaluator", iteration, rm, r, received) for r in results]
        calls = [c for c in state.get("calls") or [] if c["iteration"] == iteration and c["role"] != "feedback"] + these_calls
        reached = score is not None and score >= ctx.threshold
        record: Iteration = {
            "iteration": iteration,
            "reasoning": state["draft_reasoning"],
            "caption": state["draft_caption"],
            "score": score,
            "raw_score": last["raw_score"],
            "rationale": getattr(results[-1].value, "rationale", "") if score is not None else "",
            "status": {
                "generator": state.get("draft_reasoning_status", "structured"),
                "evaluator": results[-1].status if score is not None else "unscored",
            },
            "evaluator_attempts": attempts,
            "reached_threshold": reached,
            "leaks": find_leaks(state["draft_reasoning"], state.get("choices")),
            "feedback_in": state.get("feedback"),
            "seconds": sum_seconds(calls),
            "usage": total_usage(c["usage"] for c in calls),
        }
        everything = [*previous, record]
        best = best_index(everything)
        reason = stop_reason(score, iteration, ctx)
        would_stop_at = state.get("would_stop_at") or (iteration if reached else None)
        decision = {"iteration": iteration, "score": score, "best_iteration": best + 1, "stop_reason": reason}
        annotate_node_run(metadata={**decision, "threshold": ctx.threshold, "max_iterations": ctx.max_iterations})
        get_stream_writer()(decision)
        return {
            "iterations": [record],
            "calls": these_calls,
            "best_iteration": best + 1,
            "reasoning_star": everything[best]["reasoning"],
            "stop_reason": reason,
            "would_stop_at": would_stop_at,
        }

    return graph_node("evaluator", evaluator, models, ("evaluator",))
