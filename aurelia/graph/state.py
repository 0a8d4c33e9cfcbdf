"""Graph state: a small input schema, and the internal state that keeps every iteration.

The state holds references (paths, hashes, measured digest), never media bytes.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired

from pydantic import Field
from typing_extensions import TypedDict  # pydantic needs it on Python 3.11 to give Studio the JSON schemas


class InputState(TypedDict):
    """What a caller provides: paths to local media files and the question."""

    video: Annotated[str, Field(description="Path of the video file; its audio track is used unless `audio` is given.")]
    question: Annotated[str, Field(description="The question about what is seen and heard.")]
    audio: NotRequired[Annotated[str | None, Field(description="Path of a separate audio file (for a silent video).")]]
    choices: NotRequired[Annotated[list[str] | None, Field(description="Answer choices for a multiple-choice question (2 to 26).")]]
    sample_id: NotRequired[Annotated[str | None, Field(description="Your id for this sample (kept in results and traces).")]]


class Iteration(TypedDict):
    iteration: int
    reasoning: dict[str, Any]  # {"steps": [{"step", "answer"}], "final_answer"}
    caption: str
    score: int
    raw_score: int | None
    rationale: str
    status: dict[str, str]  # per role: structured / parsed / repaired / failed
    feedback_in: str | None


class CallRecord(TypedDict):
    role: str
    iteration: int
    model: str
    seconds: float
    usage: dict[str, int]
    received: list[str]
    status: str


class State(InputState, total=False):
    media: dict[str, Any]
    iterations: Annotated[list[Iteration], operator.add]
    calls: Annotated[list[CallRecord], operator.add]
    draft_reasoning: dict[str, Any]
    draft_reasoning_status: str
    draft_caption: str
    feedback: str | None
    best_iteration: int
    reasoning_star: dict[str, Any]
    stop_reason: str | None
    review_requested: bool  # from the context at the start, so a resume without the context still pauses
    review: dict[str, Any]  # {"action": "approved" | "edited", "original": r* before an edit}
    answer: str | None
    answer_choice: str | None
    target: dict[str, Any]


class OutputState(TypedDict, total=False):
    """What a finished run returns (reasoning-only runs leave the answer fields empty)."""

    sample_id: str | None
    question: str
    choices: list[str] | None
    media: dict[str, Any]
    iterations: list[Iteration]
    calls: list[CallRecord]
    best_iteration: int
    reasoning_star: dict[str, Any]
    stop_reason: str | None
    review: dict[str, Any]
    answer: str | None
    answer_choice: str | None
    target: dict[str, Any]
