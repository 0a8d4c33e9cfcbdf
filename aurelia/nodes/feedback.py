"""feedback: tell the generator its last score and why (template), or ask an LLM critic."""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.graph.context import Context
from aurelia.graph.state import State
from aurelia.models.messages import build_messages
from aurelia.models.structured import call_text
from aurelia.nodes.common import Models, agent_call_record, traced
from aurelia.prompts import render
from aurelia.prompts.format import format_reasoning
from aurelia.tracing import annotate_node_run, run_meta


def make_feedback(models: Models):
    def feedback(state: State, runtime: Runtime[Context]) -> dict:
        ctx = runtime.context or Context()
        last = state["iterations"][-1]
        rationale = last["rationale"]
        calls = []
        if models.has("feedback", ctx):
            rm = models.get("feedback", ctx)
            critic = render(
                "critic",
                question=state["question"],
                reasoning=format_reasoning(last["reasoning"], "full"),
                caption=last["caption"],
                score=last["score"],
                rationale=last["rationale"],
            )
            messages, received = build_messages(critic)  # the trajectory as text
            result = call_text(rm, messages, config=traced("feedback", last["iteration"], rm, state, ctx))
            rationale = f"{last['rationale']} Critic: {result.value}"
            calls.append(agent_call_record("feedback", last["iteration"], rm, result, received))
        else:
            tags = ["role:feedback", "model:template", f"iteration:{last['iteration']}"]
            annotate_node_run(tags=tags, metadata=run_meta(state, ctx, last["iteration"]))
        text = render("feedback", score=last["score"], rationale=rationale, reasoning=format_reasoning(last["reasoning"], "full")).user
        return {"feedback": text, "calls": calls}

    return feedback
