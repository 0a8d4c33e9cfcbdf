"""Run-time settings of a run (Studio shows them as a form; each field has a description)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field

from aurelia.errors import InputError
from aurelia.prompts import PROMPT_SETS
from aurelia.prompts.format import ANSWER_KINDS, FEEDBACK_MODES, INJECT_MODES, INJECT_POSITIONS

InjectMode = Literal["steps", "steps_answers", "full", "none"]
PromptSetName = Literal["aurelia", "paper"]
FeedbackMode = Literal["score_only", "rationale", "critic"]
InjectPosition = Literal["after_choices", "before_question"]
AnswerKind = Literal["short", "sentence", "caption"]
# how LangGraph templates mark a field as a model picker in Studio
ModelString = Annotated[str, {"__template_metadata__": {"kind": "llm"}}]


@dataclass(kw_only=True)
class Context:
    """Run-time settings: τ and T, the model per role, what of r* is injected, frames, review."""

    threshold: Annotated[int, Field(ge=1, le=10)] = field(
        default=6,
        metadata={"description": "τ: stop when the evaluator scores a caption at least this (1-10). Paper default 6."},
    )
    max_iterations: Annotated[int, Field(ge=1)] = field(
        default=5,
        metadata={"description": "T: the most reasoning iterations before injecting the best one. Paper default 5."},
    )
    generator_model: ModelString = field(
        default="local",
        metadata={
            "description": "Reasoning Generator model: 'local', 'gguf:PATH', 'hf:ID', 'openai:gpt-4o', "
            "'google_genai:gemini-2.5-pro', 'anthropic:…', 'ollama:…' or an http(s) URL with ?model=."
        },
    )
    summarizer_model: ModelString = field(
        default="local", metadata={"description": "Summarizer model (text only: it never sees the media)."}
    )
    evaluator_model: ModelString = field(
        default="local", metadata={"description": "Evaluator model (sees the media and the caption, never the reasoning)."}
    )
    feedback_model: ModelString = field(
        default="",
        metadata={"description": "The LLM critic's model for feedback_mode 'critic' (given alone, it selects that mode)."},
    )
    prompt_set: PromptSetName = field(
        default="aurelia", metadata={"description": "Prompt wording: 'aurelia' (ours) or 'paper' (the authors', in substance)."}
    )
    feedback_mode: FeedbackMode | None = field(
        default=None,
        metadata={"description": "Feedback besides the score: score_only (paper), rationale, critic. Empty: critic with a "
        "feedback model, else the prompt set's own (rationale; paper: score_only)."},
    )  # fmt: skip
    early_stop: bool = field(
        default=True,
        metadata={"description": "Stop when a score reaches τ. Off: run all T iterations (recording where it would have stopped)."},
    )
    target_model: ModelString = field(default="local", metadata={"description": "Target model that answers with r* injected."})
    inject: InjectMode = field(
        default="steps",
        metadata={
            "description": "What of r* the target sees: 'steps', 'steps_answers', 'full' (with the proposed final answer), "
            "or 'none' (zero-shot baseline)."
        },
    )
    inject_position: InjectPosition = field(
        default="after_choices",
        metadata={"description": "Where r* goes in the target prompt: 'after_choices' or 'before_question' (the paper prepends it)."},
    )
    answer_kind: AnswerKind = field(
        default="short", metadata={"description": "Open answer wanted: 'short' (word or phrase), 'sentence' or 'caption' (paragraph)."}
    )
    extractor_model: ModelString = field(
        default="", metadata={"description": "Optional LLM reading multiple-choice replies the rules cannot (answer_extracted)."}
    )
    num_frames: Annotated[int, Field(ge=1)] = field(
        default=5, metadata={"description": "Most keyframes selected per video (scene changes first, then coverage)."}
    )
    frame_size: Annotated[int, Field(ge=16)] = field(
        default=512, metadata={"description": "Longest side, in pixels, of frames sent to image-capable models."}
    )
    max_tokens: Annotated[int, Field(ge=16)] = field(default=384, metadata={"description": "Most tokens each agent may generate per call."})
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = field(
        default=0.7,
        metadata={"description": "Generator sampling temperature from iteration 2 on (iteration 1 and the other agents are greedy)."},
    )
    seed: int = field(default=0, metadata={"description": "Seed for local models, so runs are reproducible."})
    review: bool = field(default=False, metadata={"description": "Pause before injection for a human to approve or edit r*."})


def validate_context(ctx: Context) -> Context:
    """Raise InputError on settings that cannot give a meaningful run."""
    if not isinstance(ctx.threshold, int) or not 1 <= ctx.threshold <= 10:
        raise InputError(f"threshold τ must be an integer from 1 to 10, got {ctx.threshold!r}")
    if not isinstance(ctx.max_iterations, int) or ctx.max_iterations < 1:
        raise InputError(f"max_iterations T must be at least 1, got {ctx.max_iterations!r}")
    if ctx.inject not in INJECT_MODES:
        raise InputError(f"inject must be one of {', '.join(INJECT_MODES)}, got {ctx.inject!r}")
    choices = {
        "prompt_set": tuple(PROMPT_SETS),
        "feedback_mode": (None, *FEEDBACK_MODES),
        "inject_position": INJECT_POSITIONS,
        "answer_kind": ANSWER_KINDS,
        "early_stop": (True, False),
    }
    for name, allowed in choices.items():
        value = getattr(ctx, name)
        if value not in allowed or (name == "early_stop" and not isinstance(value, bool)):
            raise InputError(f"{name} must be one of {', '.join(str(a) for a in allowed if a is not None)}, got {value!r}")
    if not isinstance(ctx.temperature, int | float) or not 0.0 <= ctx.temperature <= 2.0:
        raise InputError(f"temperature must be from 0 to 2, got {ctx.temperature!r}")
    if ctx.num_frames < 1:
        raise InputError(f"num_frames must be at least 1, got {ctx.num_frames!r}")
    if ctx.max_tokens < 16:
        raise InputError(f"max_tokens must be at least 16, got {ctx.max_tokens!r}")
    return ctx
