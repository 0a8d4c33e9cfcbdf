"""The injection prompt (template ``prompts/target.txt``) and the answer reader.

Shared by every target back-end so that a local Hugging Face model and a chat model see the
same words for the same sample and injection mode.
"""

from __future__ import annotations

import re

from aurelia.nodes.common import format_choices, format_reasoning
from aurelia.parsing import choice_letters, parse_choice
from aurelia.prompts import Prompt, render

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
    facts = f"Measured facts about the media:\n{facts}" if facts else ""
    prompt = render(
        "target",
        facts=facts,
        question=question,
        choices=format_choices(choices),
        reasoning=injection_text(reasoning, mode),
        instruction=instruction,
    )
    return Prompt(prompt.system, re.sub(r"\n{3,}", "\n\n", prompt.user).strip())


def read_answer(text: str, choices: list[str] | None) -> tuple[str | None, str | None]:
    """(answer, letter): for multiple choice only a valid option counts; never a default."""
    if not choices:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return (first or None), None
    index = parse_choice(text, choices)
    if index is None:
        return None, None
    return choices[index], choice_letters(len(choices))[index]
