"""feedback: tell the generator its last score, and per the feedback mode why (the evaluator's
rationale) and what to fix (an LLM critic). An unscored iteration gives no feedback: there is
no score to report, and the generator's next try starts from its first prompt."""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.graph.context import Context
from aurelia.graph.state import State
from aurelia.models.messages import build_messages
from aurelia.models.structured import Steps, text_steps
from aurelia.nodes.common import GraphNode, Models, agent_call_record, feedback_mode, graph_node, traced
from aurelia.prompts import render
from aurelia.prompts.format import feedback_comment, format_choices, reasoning_fields
from aurelia.tracing import annotate_node_run, run_meta


def make_feedback(models: Models) -> GraphNode:
    def feedback(state: State, runtime: Runtime[Context]) -> Steps[dict]:
        ctx = runtime.context or Context()
        last = state["iterations"][-1]
        mode = (state.get("settings") or {}).get("feedback_mode") or feedback_mode(ctx, models)
        fields = reasoning_fields(last["reasoning"])
        calls, advice = [], ""
        if mode == "critic" and last["score"] is not None:
            rm = models.get("feedback", ctx)
            critic = render(
                "critic",
                prompt_set=ctx.prompt_set,
                question=state["question"],
                caption=last["caption"],
                score=last["score"],
                comment=feedback_comment("rationale", last["rationale"]),
                **fields,
            )
            messages, received = build_messages(critic)  # the trajectory as text
            result = yield from text_steps(rm, messages, traced("feedback", last["iteration"], rm, state, ctx))
            advice = result.value
            calls.append(agent_call_record("feedback", last["iteration"], rm, result, received))
        else:
            tags = ["role:feedback", "model:template", f"iteration:{last['iteration']}", f"feedback:{mode}"]
            annotate_node_run(tags=tags, metadata=run_meta(state, ctx, last["iteration"]))
        if last["score"] is None:  # unscored: nothing to report, and no stand-in criticism
            return {"feedback": None, "calls": calls}
        text = render(
            "feedback",
            prompt_set=ctx.prompt_set,
            score=last["score"],
            comment=feedback_comment(mode, last["rationale"], advice),
            question=state["question"],
            choices=format_choices(state.get("choices")),
            **fields,
        ).user
        return {"feedback": text, "calls": calls}

    return graph_node("feedback", feedback, models, ("feedback",))
