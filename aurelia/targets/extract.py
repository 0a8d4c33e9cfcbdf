"""An optional LLM extractor for multiple-choice replies that the rules cannot read.

The rules (:func:`aurelia.parsing.read_answer`) come first and their reading is the answer
without the extractor; only a reply they leave unparsed goes to the extractor. Its reading is
recorded apart (``answer_extracted``), so that accuracy is reported with and without it, and
it is read back with the same rules: an extractor reply that names no single option is still
unparsed, never a default letter.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from aurelia.models.messages import build_messages
from aurelia.models.registry import RoleModel
from aurelia.models.structured import CallResult, Steps, drive, text_steps
from aurelia.parsing import read_answer, strip_think
from aurelia.prompts import render
from aurelia.prompts.format import format_choices
from aurelia.targets.base import TargetAnswer, TargetSample

REPLY_CHARS = 6000  # the end of a long reply is where its final answer is


def extract_answer(
    rm: RoleModel, answer: TargetAnswer, sample: TargetSample, config: RunnableConfig | None = None
) -> tuple[dict[str, Any], CallResult | None]:
    """(the answer with the extractor, its call or None): the rules' reading when they have
    one ('source': 'rules'), else the extractor's ('extractor'), else nothing (None)."""
    return drive(extract_steps(rm, answer, sample, config))


def extract_steps(
    rm: RoleModel, answer: TargetAnswer, sample: TargetSample, config: RunnableConfig | None = None
) -> Steps[tuple[dict[str, Any], CallResult | None]]:
    """The steps of :func:`extract_answer` (for the sync and the async driver)."""
    if answer.letter is not None:
        return {"answer": answer.answer, "letter": answer.letter, "source": "rules"}, None
    reply = strip_think(answer.text)
    if not sample.choices or not reply:
        return {"answer": None, "letter": None, "source": None}, None
    prompt = render("extractor", question=sample.question, choices=format_choices(sample.choices), reply=reply[-REPLY_CHARS:])
    messages, _ = build_messages(prompt)
    result = yield from text_steps(rm, messages, config)
    text, letter = read_answer(result.value, sample.choices)
    record = {
        "answer": text,
        "letter": letter,
        "source": "extractor" if letter else None,
        "model": rm.spec.label,
        "raw": result.value,
    }
    return record, result
