"""What the agents return: structured reasoning and an evaluation."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from aurelia.errors import InputError

# The only lists of these settings' allowed values (the run settings in aurelia.graph.context
# use them; the prompt formatting and the targets, layers below, read them from here)
InjectMode = Literal["steps", "steps_answers", "full", "none"]
# no r*: the target reasons step by step itself, then answers (chain of thought)
SelfReasoningMode = Literal["cot"]
# the benchmark's controls and equal-cost baselines, answered beside the inject modes:
# chain of thought, self-consistency (a vote of sampled answers), another sample's r* (placebo)
ControlMode = Literal[SelfReasoningMode, "sc", "placebo"]
# what a target's prompt is built for: an injection of r*, or reasoning of its own
TargetPromptMode = Literal[InjectMode, SelfReasoningMode]
InjectPosition = Literal["after_choices", "before_question"]
AnswerKind = Literal["short", "sentence", "caption"]
FeedbackMode = Literal["score_only", "rationale", "critic"]


def choice_problem(name: str, value: Any, choices: Any) -> str:
    """The one line saying a setting is not one of its allowed values (``choices``: a Literal or a tuple)."""
    values = get_args(choices) if not isinstance(choices, tuple) else choices
    return f"{name} must be one of {', '.join(map(str, values))}, got {value!r}"


def check_choice(name: str, value: Any, literal: Any) -> None:
    """Refuse a value that is not one of the ``Literal``'s (an InputError, the line settings use)."""
    if value not in get_args(literal):
        raise InputError(choice_problem(name, value, literal))


MAX_STEPS = 6
MAX_CHOICES = 26  # lettered A-Z
MAX_CHOICE_CHARS = 1_000
MAX_QUESTION_CHARS = 20_000


def check_question(question: object, choices: object = None) -> None:
    """The one check of a question and its choices, for the graph input and target samples alike:
    a non-empty question, and 2 to 26 distinct non-empty choices, each of bounded length."""
    if not isinstance(question, str) or not question.strip():
        raise InputError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    if choices is None:
        return
    if not isinstance(choices, list) or any(not isinstance(c, str) or not c.strip() for c in choices):
        raise InputError("choices must be a list of non-empty strings")
    if not 2 <= len(choices) <= MAX_CHOICES:
        raise InputError(f"give 2 to {MAX_CHOICES} choices, got {len(choices)}")
    seen: set[str] = set()
    for choice in choices:
        if len(choice) > MAX_CHOICE_CHARS:
            raise InputError(f"a choice is {len(choice)} characters long; the limit is {MAX_CHOICE_CHARS}")
        key = " ".join(choice.split()).casefold()
        if key in seen:
            raise InputError(f"duplicate choice {choice.strip()!r}: the choices must differ")
        seen.add(key)


class Step(BaseModel):
    step: str = Field(description="One reasoning step: what to look at or listen for, grounded in the media.")
    answer: str = Field(description="What the video/audio shows for this step.")


class Reasoning(BaseModel):
    """Step-by-step reasoning: steps, an answer per step, and a final answer."""

    steps: list[Step] = Field(description="3 to 5 reasoning steps, in order.", min_length=1, max_length=MAX_STEPS)
    final_answer: str = Field(description="The answer to the question that the steps support.")


class Score(BaseModel):
    """How similar a caption is to the actual video and audio: a score only (the paper's evaluator)."""

    score: int = Field(description="Integer from 1 (contradicts the media) to 10 (fully matches).")


class Evaluation(Score):
    """How well a caption matches the actual video and audio, and why."""

    rationale: str = Field(description="One or two sentences: what matches and what does not.")
