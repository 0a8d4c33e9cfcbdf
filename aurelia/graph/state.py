"""Graph state: a small input schema, and the internal state that keeps every iteration.

The state holds references (paths, hashes, measured digest), never media bytes.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired

from pydantic import Field
from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it on Python < 3.12

from aurelia.media.ref import MediaRef


class InputState(TypedDict):
    """What a caller provides: paths to local media files and the question."""

    video: Annotated[str, Field(description="Path to the video file (its audio track is used unless `audio` is given).")]
    question: Annotated[str, Field(description="The question about the video and its sound.")]
    audio: NotRequired[Annotated[str | None, Field(description="Optional separate audio file, e.g. for a silent video.")]]
    audio_candidates: NotRequired[
        Annotated[
            list[str] | None,
            Field(description="Optional candidate audio clips to choose between (labelled A, B, C…), e.g. Dance-Music matching."),
        ]
    ]
    choices: NotRequired[Annotated[list[str] | None, Field(description="Optional answer choices; the target answers with a letter.")]]
    sample_id: NotRequired[Annotated[str | None, Field(description="Optional id, carried into results and traces.")]]


class Iteration(TypedDict):
    iteration: int
    reasoning: dict[str, Any]  # {"steps": [{"step", "answer"}], "final_answer"}
    caption: str
    score: int | None  # None: unscored (no usable score after one re-ask); never a stand-in 1
    raw_score: int | None  # the last score read as written (e.g. 85 on a 0-100 scale), None if none
    rationale: str
    status: dict[str, str]  # per role: structured / parsed / repaired / failed; evaluator also unscored
    evaluator_attempts: list[dict[str, Any]]  # each ask: {"raw_score", "status", "problem"}
    reached_threshold: bool  # score >= τ (the stop it triggers, or would with early_stop off)
    leaks: list[dict[str, Any]]  # steps whose text gives the answer away: {"step", "kind", "text"}
    feedback_in: str | None
    seconds: dict[str, float]  # per role, this iteration
    usage: dict[str, int]  # tokens summed over this iteration's calls (when reported)


class CallRecord(TypedDict):
    role: str
    iteration: int
    model: str
    seconds: float
    usage: dict[str, int]
    received: list[str]
    status: str
    temperature: float | str | None  # as sent; "provider forbids" where it may not be set; None: no such setting
    seed: int | None
    attempts: int  # requests made for this call, retries included


class OutputState(TypedDict, total=False):
    """What a finished run returns (reasoning-only runs leave the answer fields empty)."""

    settings: dict[str, Any]  # what shapes the measurement: prompt set, feedback mode, early stop, injection, extractor
    media: MediaRef
    iterations: Annotated[list[Iteration], operator.add]
    calls: Annotated[list[CallRecord], operator.add]
    best_iteration: int
    reasoning_star: dict[str, Any]
    stop_reason: str | None
    would_stop_at: int | None  # the first iteration that reached τ (where early_stop stops, or would have)
    review: dict[str, Any]  # {"action": "approved" | "edited", "original": r* before an edit}
    answer: str | None
    answer_choice: str | None  # read by the rules alone
    answer_extracted: dict[str, Any]  # with the optional LLM extractor: {"answer", "letter", "source", ...}
    target: dict[str, Any]


class State(InputState, OutputState, total=False):
    """Internal state: the output plus the current iteration's drafts and pending feedback."""

    draft_reasoning: dict[str, Any]
    draft_reasoning_status: str
    draft_caption: str
    feedback: str | None
    review_requested: bool  # from the context at the start, so a resume without the context still pauses
