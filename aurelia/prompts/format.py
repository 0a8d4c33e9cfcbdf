"""Small formatting functions for every text a model reads besides the templates: choices,
reasoning, the injection of r* and the target prompt (template ``target.txt``), media labels.

Shared by the agents and every target back-end, so that a local Hugging Face model and a chat
model see the same words for the same sample and injection mode.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from aurelia.parsing import choice_letters
from aurelia.prompts import Prompt, render
from aurelia.schemas import AnswerKind, ControlMode, FeedbackMode, InjectMode, InjectPosition, TargetPromptMode

# the allowed values, read off the Literals of aurelia.schemas (their only list)
INJECT_MODES: tuple[str, ...] = get_args(InjectMode)
CONTROL_MODES: tuple[str, ...] = get_args(ControlMode)
TARGET_PROMPT_MODES: tuple[str, ...] = get_args(TargetPromptMode)
ANSWER_KINDS: tuple[str, ...] = get_args(AnswerKind)
INJECT_POSITIONS: tuple[str, ...] = get_args(InjectPosition)
FEEDBACK_MODES: tuple[str, ...] = get_args(FeedbackMode)


def keyframe_label(t: float) -> str:
    """The text that precedes a keyframe image, for every back-end."""
    return f"Keyframe at {t:.1f}s:"


def audio_label(note: str, option: str | None = None) -> str:
    """The text that precedes an audio clip: the track, or candidate ``option`` (A, B, …)."""
    return f"Audio option {option} ({note}):" if option else f"Audio track ({note}):"


def facts_text(digest: str) -> str:
    """The measured digest as text, for models that miss a modality."""
    return f"Measured facts about the media:\n{digest}" if digest else ""


def format_choices(choices: list[str] | None) -> str:
    if not choices:
        return ""
    letters = choice_letters(len(choices))
    return "Choices:\n" + "\n".join(f"({letters[i]}) {c}" for i, c in enumerate(choices))


def format_reasoning(reasoning: dict[str, Any], mode: str = "full") -> str:
    """Render reasoning for a prompt: 'steps', 'steps_answers' or 'full' (with final answer)."""
    lines = []
    for i, step in enumerate(reasoning.get("steps", []), start=1):
        line = f"{i}. {step.get('step', '').strip()}"
        if mode in ("steps_answers", "full") and step.get("answer"):
            line += f"\n   Answer: {step['answer'].strip()}"
        lines.append(line)
    if mode == "full" and reasoning.get("final_answer"):
        lines.append(f"Final answer: {reasoning['final_answer'].strip()}")
    return "\n".join(lines)


INJECT_HEADERS = {
    "steps": "Reasoning steps to consider:",
    "steps_answers": "Step-by-step reasoning about this video and audio:",
    "full": "Step-by-step reasoning about this video and audio, with a proposed answer:",
}


def injection_text(reasoning: dict | None, mode: str) -> str:
    """What of r* the target sees: nothing in the 'none' (zero-shot baseline) mode."""
    if mode == "none" or not reasoning:
        return ""
    return f"{INJECT_HEADERS[mode]}\n{format_reasoning(reasoning, mode)}"


ANSWER_INSTRUCTIONS = {
    "short": "Answer with a word or a short phrase.",
    "sentence": "Answer in one complete sentence.",
    "caption": "Answer with one paragraph that describes what is seen and heard.",
}


def answer_instruction(choices: list[str] | None, answer_kind: str = "short") -> str:
    """What the target is told to reply: a letter for multiple choice, else per ``answer_kind``."""
    if choices:
        letters = choice_letters(len(choices))
        return f"Answer with the letter of the correct choice ({', '.join(letters)}) only."
    return ANSWER_INSTRUCTIONS[answer_kind]


def target_prompt(
    question: str,
    choices: list[str] | None,
    reasoning: dict | None,
    mode: str,
    facts: str = "",
    *,
    answer_kind: str = "short",
    position: str = "after_choices",
    instruction: str | None = None,
) -> Prompt:
    """System + user text; ``facts`` is the measured digest for models that miss a modality.
    ``position`` puts the injected r* after the choices or before the question (the paper
    prepends it); every back-end places its media before this text. ``instruction`` (a benchmark
    task's own, with its answer set) replaces the generic answer instruction word for word."""
    injected = injection_text(reasoning, mode)
    told = instruction.strip() if instruction and instruction.strip() else answer_instruction(choices, answer_kind)
    if mode == "cot":  # the target reasons itself first; the answer instruction then says how to write the last line
        told = render("cot", instruction=told).user
    prompt = render(
        "target",
        facts=facts_text(facts),
        question=question,
        choices=format_choices(choices),
        reasoning_before=injected if position == "before_question" else "",
        reasoning_after=injected if position == "after_choices" else "",
        instruction=told,
    )
    return Prompt(prompt.system, re.sub(r"\n{3,}", "\n\n", prompt.user).strip())


def score_text(score: int | None) -> str:
    """A score as people read it: the number, or 'unscored' for a failed evaluation."""
    return "unscored" if score is None else str(score)


def feedback_comment(mode: str, rationale: str = "", advice: str = "") -> str:
    """The lines the feedback adds to the score: nothing (score_only, as in the paper), the
    evaluator's rationale, or the rationale and an LLM critic's advice."""
    lines = []
    if mode in ("rationale", "critic") and rationale.strip():
        lines.append(f"Evaluator's comment: {rationale.strip()}")
    if mode == "critic" and advice.strip():
        lines.append(f"Critic's advice: {advice.strip()}")
    return "\n".join(lines)


def reasoning_fields(reasoning: dict[str, Any]) -> dict[str, str]:
    """Every way a template may show a reasoning: whole ('reasoning', with the final answer),
    or in the paper's three parts ('steps', 'step_answers', 'final_answer')."""
    steps = reasoning.get("steps", [])
    return {
        "reasoning": format_reasoning(reasoning, "full"),
        "steps": format_reasoning(reasoning, "steps"),
        "step_answers": "\n".join(f"{i}. {(s.get('answer') or '').strip()}" for i, s in enumerate(steps, start=1)),
        "final_answer": (reasoning.get("final_answer") or "").strip(),
    }


def dialog_question(question: str, history: list[dict[str, str]] | None) -> str:
    """A question asked after earlier dialog turns (AVSD): the turns come first, so every agent
    and target reads the question in its dialog."""
    if not history:
        return question
    turns = "\n".join(f"Q: {t['question'].strip()}\nA: {t['answer'].strip()}" for t in history)
    return f"Earlier in this dialog:\n{turns}\nNow: {question}"
