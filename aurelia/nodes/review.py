"""review: optional human review of r* before injection, with LangGraph's ``interrupt()``.

With ``review`` on in the context, the run pauses here showing r* and the trajectory. Resume
with ``Command(resume=...)`` (SDK: ``command={"resume": ...}``; Studio: the resume box):
  * ``"approve"``, ``True`` or ``{"action": "approve"}`` keeps r*;
  * ``{"action": "edit", "reasoning": {"steps": [{"step", "answer"}], "final_answer"}}``, a
    reasoning dict alone, or plain text (one step per line) replaces it.
An invalid resume value does not fail the run: the node pauses again with the request and an
``error`` saying what was wrong (LangGraph's validate-in-a-loop pattern).
"""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import ValidationError

from aurelia.errors import InputError
from aurelia.graph.context import Context
from aurelia.graph.state import State
from aurelia.nodes.common import GraphNode, blocking_node
from aurelia.schemas import MAX_STEPS, Reasoning, Step
from aurelia.tracing import annotate_node_run

LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
APPROVE = {"approve", "approved", "ok", "yes", "accept"}
HOW = (
    "Resume with 'approve' to keep r*, or {'action': 'edit', 'reasoning': {'steps': [{'step': ..., 'answer': ...}], "
    "'final_answer': ...}} (or plain text, one step per line) to replace it."
)


def review_request(state: State) -> dict[str, Any]:
    """What the reviewer sees: the question, r* and every iteration's score (None and
    ``scored: False`` for an unscored one) and caption."""
    return {
        "question": state["question"],
        "choices": state.get("choices"),
        "best_iteration": state.get("best_iteration"),
        "reasoning_star": state.get("reasoning_star"),
        "stop_reason": state.get("stop_reason"),
        "trajectory": [
            {
                "iteration": it["iteration"],
                "score": it["score"],  # None: unscored
                "scored": it["score"] is not None,
                "caption": it["caption"],
                "rationale": it["rationale"],
            }
            for it in state.get("iterations") or []
        ],
        "how_to_resume": HOW,
    }


def _from_text(text: str) -> dict[str, Any]:
    lines = [LIST_MARKER.sub("", line).strip() for line in text.splitlines()]
    steps = [Step(step=line, answer="") for line in lines if line]
    if not steps:
        raise InputError("the edited reasoning is empty")
    if len(steps) > MAX_STEPS:
        raise InputError(f"the edited reasoning has {len(steps)} steps (one per non-empty line); at most {MAX_STEPS}: merge some lines")
    return Reasoning(steps=steps, final_answer="").model_dump()


def apply_decision(decision: Any, star: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(reasoning to inject, 'approved' | 'edited') from a resume value; InputError if unusable."""
    if decision is True or (isinstance(decision, str) and decision.strip().lower() in APPROVE):
        return star, "approved"
    if isinstance(decision, str):
        return _from_text(decision), "edited"
    if isinstance(decision, dict):
        action = str(decision.get("action", "edit" if "reasoning" in decision or "steps" in decision else "")).lower()
        if action in APPROVE:
            return star, "approved"
        if action == "edit":
            edited = decision.get("reasoning", decision if "steps" in decision else None)
            if isinstance(edited, str):
                return _from_text(edited), "edited"
            try:
                return Reasoning.model_validate(edited).model_dump(), "edited"
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise InputError(f"edited reasoning is invalid at {where or 'top level'}: {first['msg']}") from exc
    raise InputError(f"unrecognised review decision {decision!r}. {HOW}")


def make_review() -> GraphNode:
    def review(state: State, runtime: Runtime[Context]) -> dict:
        ctx = runtime.context or Context()
        if not (ctx.review or state.get("review_requested")):
            return {}
        star = state.get("reasoning_star") or {}
        request = review_request(state)
        while True:
            try:
                reasoning, action = apply_decision(interrupt(request), star)
                break
            except InputError as exc:
                request = {**request, "error": str(exc)}
        annotate_node_run(tags=["role:review", f"review:{action}"], metadata={"sample_id": state.get("sample_id"), "review": action})
        record: dict[str, Any] = {"action": action}
        if action == "edited":
            record["original"] = star
        return {"reasoning_star": reasoning, "review": record}

    return blocking_node("review", review, heavy=False)  # reads the state, or pauses: on the loop
