"""summarizer: c = S(r, q) — a caption from the reasoning alone (it never sees the media)."""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.graph.context import Context
from aurelia.graph.state import State
from aurelia.models.messages import build_messages
from aurelia.models.structured import Steps, text_steps
from aurelia.nodes.common import GraphNode, Models, agent_call_record, graph_node, traced
from aurelia.prompts import render
from aurelia.prompts.format import reasoning_fields


def make_summarizer(models: Models) -> GraphNode:
    def summarizer(state: State, runtime: Runtime[Context]) -> Steps[dict]:
        ctx = runtime.context or Context()
        iteration = len(state.get("iterations") or []) + 1
        rm = models.get("summarizer", ctx)
        # steps, step answers and the final answer, as in the paper: a wrong perceptual answer
        # then shows in the caption, where the evaluator can catch it
        prompt = render("summarizer", prompt_set=ctx.prompt_set, question=state["question"], **reasoning_fields(state["draft_reasoning"]))
        messages, received = build_messages(prompt)  # text only: it never sees the media
        result = yield from text_steps(rm, messages, traced("summarizer", iteration, rm, state, ctx))
        return {"draft_caption": result.value, "calls": [agent_call_record("summarizer", iteration, rm, result, received)]}

    return graph_node("summarizer", summarizer, models, ("summarizer",))
