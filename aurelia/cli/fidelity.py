"""The options that choose between the paper's setting and ours (``aurelia run``/``demo``), and
the lines that show, after a run, which setting was measured and how the answer was read."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aurelia.prompts import PROMPT_SETS
from aurelia.prompts.format import ANSWER_KINDS, FEEDBACK_MODES, INJECT_POSITIONS

PromptSetOpt = Annotated[
    str | None, typer.Option("--prompt-set", help=f"Prompt wording: {', '.join(PROMPT_SETS)} (default aurelia; paper = the authors').")
]
FeedbackModeOpt = Annotated[
    str | None,
    typer.Option(
        "--feedback-mode",
        help=f"What feedback adds to the score: {', '.join(FEEDBACK_MODES)} (default: critic with --feedback, else the prompt set's own).",
    ),
]
NoEarlyStopOpt = Annotated[
    bool, typer.Option("--no-early-stop", help="Run all T iterations even when a score reaches τ (records where it would stop).")
]
InjectPositionOpt = Annotated[
    str | None, typer.Option("--inject-position", help=f"Where r* goes in the target prompt: {', '.join(INJECT_POSITIONS)}.")
]
ExtractorOpt = Annotated[
    str | None, typer.Option("--extractor", help="LLM that reads a multiple-choice reply the rules cannot (recorded apart).")
]
AnswerKindOpt = Annotated[
    str | None, typer.Option("--answer-kind", help=f"The open answer wanted: {', '.join(ANSWER_KINDS)} (default short).")
]


def fidelity_settings(
    prompt_set: str | None,
    feedback_mode: str | None,
    no_early_stop: bool,
    inject_position: str | None,
    extractor: str | None,
    answer_kind: str | None = None,
) -> dict[str, Any]:
    """Context overrides from these options (None: not given, the default applies)."""
    return {
        "prompt_set": prompt_set,
        "feedback_mode": feedback_mode,
        "early_stop": False if no_early_stop else None,
        "inject_position": inject_position,
        "extractor_model": extractor,
        "answer_kind": answer_kind,
    }


def evaluator_note(iteration: dict[str, Any]) -> str:
    """The evaluator column of an iteration: its rationale, or why it is unscored."""
    if iteration.get("score") is None:
        problems = [a.get("problem") for a in iteration.get("evaluator_attempts") or [] if a.get("problem")]
        return f"unscored: {problems[-1]}" if problems else "unscored"
    return iteration.get("rationale", "")


def setting_lines(result: dict[str, Any]) -> list[str]:
    """What was measured: prompt set, feedback mode, early stop (and where it would have
    stopped), leaks, and the answer with the extractor when one was used."""
    settings = result.get("settings") or {}
    lines = []
    if settings:
        stop = "on" if settings.get("early_stop", True) else f"off (τ first reached at iteration {result.get('would_stop_at')})"
        lines.append(
            f"prompt set: {settings.get('prompt_set')}   feedback: {settings.get('feedback_mode')}   early stop: {stop}   "
            f"r* {settings.get('inject_position', 'after_choices').replace('_', ' ')}"
        )
    leaky = [it["iteration"] for it in result.get("iterations") or [] if any(k["kind"] == "final_answer" for k in it.get("leaks") or [])]
    if leaky:
        lines.append(f"steps state the final answer in iterations {', '.join(map(str, leaky))} (see iterations[].leaks)")
    extracted = result.get("answer_extracted")
    if extracted is not None:
        read = f"({extracted['letter']}) {extracted['answer']}" if extracted.get("letter") else "(unparsed)"
        lines.append(f"answer with the extractor: {read} [{extracted.get('source') or 'neither'}]")
    return lines
