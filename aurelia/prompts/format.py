"""Small formatting functions for every text a model reads besides the templates: choices,
reasoning, the injection of r* and the target prompt (template ``target.txt``), media labels.

Shared by the agents and every target back-end, so that a local Hugging Face model and a chat
model see the same words for the same sample and injection mode.
"""

from __future__ import annotations

import re
from typing import Any

from aurelia.parsing import choice_letters
from aurelia.prompts import Prompt, render

INJECT_MODES: tuple[str, ...] = ("steps", "steps_answers", "full", "none")


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


def target_prompt(question: str, choices: list[str] | None, reasoning: dict | None, mode: str, facts: str = "") -> Prompt:
    """System + user text; ``facts`` is the measured digest for models that miss a modality."""
    if choices:
        letters = choice_letters(len(choices))
        instruction = f"Answer with the letter of the correct choice ({', '.join(letters)}) only."
    else:
        instruction = "Answer with a short phrase."
    prompt = render(
        "target",
        facts=facts_text(facts),
        question=question,
        choices=format_choices(choices),
        reasoning=injection_text(reasoning, mode),
        instruction=instruction,
    )
    return Prompt(prompt.system, re.sub(r"\n{3,}", "\n\n", prompt.user).strip())


def dialog_question(question: str, history: list[dict[str, str]] | None) -> str:
    """A question asked after earlier dialog turns (AVSD): the turns come first, so every agent
    and target reads the question in its dialog."""
    if not history:
        return question
    turns = "\n".join(f"Q: {t['question'].strip()}\nA: {t['answer'].strip()}" for t in history)
    return f"Earlier in this dialog:\n{turns}\nNow: {question}"
