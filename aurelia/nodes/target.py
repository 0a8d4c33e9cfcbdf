"""target: s* = M(v, a, q, r*) — the target model answers with r* injected per the mode."""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.graph.context import Context
from aurelia.graph.state import State
from aurelia.models.structured import call_text
from aurelia.nodes.common import Models, build_messages, call_record, format_choices, format_reasoning, traced
from aurelia.parsing import choice_letters, parse_choice
from aurelia.prompts import Prompt, render

INJECT_HEADERS = {
    "steps": "Reasoning steps to consider:",
    "steps_answers": "Step-by-step reasoning about this video and audio:",
    "full": "Step-by-step reasoning about this video and audio, with a proposed answer:",
}


def injection_text(reasoning: dict | None, mode: str) -> str:
    if mode == "none" or not reasoning:
        return ""
    return f"{INJECT_HEADERS[mode]}\n{format_reasoning(reasoning, mode)}"


def target_prompt(question: str, choices: list[str] | None, reasoning: dict | None, mode: str) -> Prompt:
    if choices:
        letters = choice_letters(len(choices))
        instruction = f"Answer with the letter of the correct choice ({', '.join(letters)}) only."
    else:
        instruction = "Answer with a short phrase."
    return render("target", question=question, choices=format_choices(choices), reasoning=injection_text(reasoning, mode), instruction=instruction)


def read_answer(text: str, choices: list[str] | None) -> tuple[str | None, str | None]:
    """(answer, letter): for multiple choice only a valid option counts; never a default."""
    if not choices:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return (first or None), None
    index = parse_choice(text, choices)
    if index is None:
        return None, None
    return choices[index], choice_letters(len(choices))[index]


def make_target(models: Models):
    def target(state: State, runtime: Runtime[Context]) -> dict:
        ctx = runtime.context or Context()
        rm = models.get("target", ctx)
        star = state.get("reasoning_star")
        prompt = target_prompt(state["question"], state.get("choices"), star, ctx.inject)
        messages, received = build_messages(prompt, rm, state["media"], ctx.frame_size)
        iteration = len(state.get("iterations") or [])
        config = traced("target", iteration, rm, state, ctx, inject=ctx.inject, best_iteration=state.get("best_iteration"))
        result = call_text(rm, messages, config=config)
        answer, letter = read_answer(result.raw, state.get("choices"))
        info = {
            "model": rm.spec.raw,
            "inject": ctx.inject,
            "injected": injection_text(star, ctx.inject),
            "raw": result.raw,
            "received": received,
            "parsed": answer is not None,
        }
        return {"answer": answer, "answer_choice": letter, "target": info, "calls": [call_record("target", iteration, rm, result, received)]}

    return target
