"""Python API: ``aurelia.answer(video, question, target=..., reasoning=r*)`` -> TargetAnswer.

Answers with a target alone (no reasoning loop), e.g. to score one r* on several targets or
to get the zero-shot baseline (``inject="none"``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aurelia.boundary import MAX_USER_FILE_BYTES, parse_json, read_user_file
from aurelia.errors import InputError
from aurelia.models.messages import with_generation_settings
from aurelia.models.registry import as_role_model, resolve_model
from aurelia.schemas import Reasoning
from aurelia.targets import TargetAnswer, TargetSample, TargetSettings, load_target
from aurelia.targets.extract import extract_answer
from aurelia.tracing import scrubbing_tracer


def answer(
    video: str | Path,
    question: str,
    *,
    target: Any = "local",
    audio: str | Path | None = None,
    choices: list[str] | None = None,
    reasoning: dict[str, Any] | None = None,
    inject: str | None = None,
    settings: TargetSettings | None = None,
    num_frames: int = 5,
    answer_kind: str = "short",
    inject_position: str = "after_choices",
    extractor: Any = None,
) -> TargetAnswer:
    """Answer one question about ``video`` with ``target`` (a model string or chat model);
    ``inject`` defaults to 'steps' with a reasoning and 'none' (baseline) without one. With an
    ``extractor`` (a model string or chat model), ``.extracted`` holds the answer read with it."""
    sample = TargetSample.from_files(
        video, question, audio=audio, choices=choices, reasoning=reasoning, inject=inject, num_frames=num_frames
    )
    sample = replace(sample, answer_kind=answer_kind, inject_position=inject_position)  # validated again
    tracer = scrubbing_tracer()  # None unless LangSmith tracing is on: then the call's trace is scrubbed
    result = load_target(target, settings).answer(sample, {"callbacks": [tracer]} if tracer else None)
    if extractor is not None:
        extract_with(extractor, result, sample)
    return result


def extract_with(extractor: Any, result: TargetAnswer, sample: TargetSample) -> None:
    """Fill ``result.extracted`` for a multiple-choice sample, reading with ``extractor`` (a
    model string, greedy, or a chat model) what the rules could not."""
    if not sample.choices:
        return
    rm = resolve_model(extractor) if isinstance(extractor, str) else as_role_model(extractor, name="extractor-instance")
    result.extracted, _ = extract_answer(with_generation_settings(rm, None, 0.0, 0), result, sample)


MAX_RESULT_FILE_BYTES = 16 * MAX_USER_FILE_BYTES  # an `aurelia run --json` result carries every iteration and call


def read_reasoning(path: str | Path) -> dict[str, Any]:
    """r* from a JSON file: {"steps": [...], "final_answer": ...} or an ``aurelia run --json`` result
    (a bounded regular file, strict JSON; see :func:`aurelia.boundary.read_user_file`)."""
    data = parse_json(read_user_file(path, "reasoning file", MAX_RESULT_FILE_BYTES), "reasoning file", str(path))
    if isinstance(data, dict) and isinstance(data.get("reasoning_star"), dict):
        data = data["reasoning_star"]
    if not isinstance(data, dict) or "steps" not in data:
        raise InputError(
            'no reasoning in it: expected {"steps": [{"step": ..., "answer": ...}], "final_answer": ...} or an `aurelia run --json` result',
            path=str(path),
        )
    try:
        return Reasoning.model_validate(data).model_dump()
    except ValidationError as exc:
        raise InputError(f"invalid reasoning ({exc.errors()[0]['loc']}: {exc.errors()[0]['msg']})", path=str(path)) from exc
