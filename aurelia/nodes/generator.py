"""generator: r = R(v, a, q) — structured step-by-step reasoning grounded in the media."""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.graph.context import Context
from aurelia.graph.state import State
from aurelia.models.structured import Steps, messages_step, structured_steps
from aurelia.nodes.common import GraphNode, Models, agent_call_record, graph_node, traced
from aurelia.parsing import parse_reasoning
from aurelia.prompts import Prompt, get_prompt_set, render
from aurelia.prompts.format import format_choices
from aurelia.schemas import Reasoning, Step


def generator_prompt(state: State, ctx: Context) -> Prompt:
    """The first prompt, with the feedback appended; in a set whose feedback is a whole prompt
    (the paper's), a retry sends the feedback in place of the first prompt."""
    feedback = state.get("feedback")
    prompt = render(
        "generator", prompt_set=ctx.prompt_set, question=state["question"], choices=format_choices(state.get("choices")), feedback=feedback
    )
    if feedback and get_prompt_set(ctx.prompt_set).feedback_replaces_prompt:
        return Prompt(prompt.system, feedback)
    return prompt


def make_generator(models: Models) -> GraphNode:
    def generator(state: State, runtime: Runtime[Context]) -> Steps[dict]:
        ctx = runtime.context or Context()
        iteration = len(state.get("iterations") or []) + 1
        # iteration 1 is greedy (reproducible); retries sample, so that they can differ from it
        rm = models.get("generator", ctx, temperature=ctx.temperature if iteration > 1 else 0.0)
        messages, received = yield messages_step(generator_prompt(state, ctx), rm, state["media"], ctx.frame_size)
        config = traced("generator", iteration, rm, state, ctx)
        result = yield from structured_steps(rm, messages, Reasoning, parse_reasoning, config)
        reasoning = result.value or Reasoning(steps=[Step(step=result.raw.strip()[:1000] or "(no reasoning)", answer="")], final_answer="")
        return {
            "draft_reasoning": reasoning.model_dump(),
            "draft_reasoning_status": result.status,
            "calls": [agent_call_record("generator", iteration, rm, result, received)],
        }

    return graph_node("generator", generator, models, ("generator",))
