"""Run-time settings of a run (Studio shows them as a form; each field has a description).

:func:`make_context` is the one way to build them, for every entry point (the Python API, the
CLI, durable threads, embedding, the benchmark and the served graph): an unknown name or a value
of the wrong type or out of range is one InputError line, the same from each. Every field is
also checked (:func:`validate_context`) where a run starts, served or local: LangGraph builds
the dataclass from a client's dict unchecked.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

from pydantic import Field, TypeAdapter, ValidationError

from aurelia.errors import SettingError
from aurelia.models.retry import DEFAULT_TIMEOUT_S
from aurelia.schemas import AnswerKind, FeedbackMode, InjectMode, InjectPosition, choice_problem
from aurelia.targets.base import TARGET_MAX_TOKENS, TargetSettings

PromptSetName = Literal["aurelia", "paper"]
# how LangGraph templates mark a field as a model picker in Studio
ModelString = Annotated[str, {"__template_metadata__": {"kind": "llm"}}]


@dataclass(kw_only=True)
class Context:
    """Run-time settings: τ and T, the model per role, what of r* is injected, frames, review."""

    threshold: Annotated[int, Field(ge=1, le=10)] = field(
        default=6,
        metadata={"description": "τ: stop when the evaluator scores a caption at least this (1-10). Paper default 6."},
    )
    max_iterations: Annotated[int, Field(ge=1, le=50)] = field(
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
    num_frames: Annotated[int, Field(ge=1, le=64)] = field(
        default=5, metadata={"description": "Most keyframes selected per video (scene changes first, then coverage)."}
    )
    frame_size: Annotated[int, Field(ge=16, le=4096)] = field(
        default=512, metadata={"description": "Longest side, in pixels, of frames sent to image-capable models."}
    )
    max_tokens: Annotated[int, Field(ge=16, le=32768)] = field(
        default=384, metadata={"description": "Most tokens each agent may generate per call."}
    )
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = field(
        default=0.7,
        metadata={"description": "Generator sampling temperature from iteration 2 on (iteration 1 and the other agents are greedy)."},
    )
    target_max_tokens: Annotated[int, Field(ge=1, le=32768)] = field(
        default=TARGET_MAX_TOKENS, metadata={"description": "Most tokens the target may generate per answer (the agents': max_tokens)."}
    )
    target_temperature: Annotated[float, Field(ge=0.0, le=2.0)] = field(
        default=0.0, metadata={"description": "Target sampling temperature (0: greedy, reproducible answers)."}
    )
    seed: int = field(default=0, metadata={"description": "Seed for local models, so runs are reproducible."})
    review: bool = field(default=False, metadata={"description": "Pause before injection for a human to approve or edit r*."})
    request_timeout: Annotated[float, Field(gt=0, le=3600)] = field(
        default=DEFAULT_TIMEOUT_S,
        metadata={
            "description": "Seconds one request to a hosted or served model may take, the whole response included, before it is given up (and retried)."
        },
    )
    run_budget: Annotated[float, Field(ge=0, le=86400)] = field(
        default=3600.0,
        metadata={"description": "Seconds the whole run may take; a model request in flight is cut when it runs out (0: no budget)."},
    )

    def __post_init__(self) -> None:
        # the run's clock (not a field: never in a schema, a checkpoint or a result); LangGraph
        # builds the context once per run, and ``dataclasses.replace`` restarts it
        object.__setattr__(self, "_started", time.monotonic())

    def target_settings(self, **extra: Any) -> TargetSettings:
        """The target's generation settings from these (reply length, temperature, seed, request
        timeout, frame size), the same for the graph's target node and the benchmark's targets."""
        t = self.target_temperature
        return TargetSettings(
            max_new_tokens=self.target_max_tokens,
            do_sample=t > 0,
            temperature=t,
            seed=self.seed,
            request_timeout=self.request_timeout,
            frame_side=self.frame_size,
            **extra,
        )

    def deadline(self) -> float | None:
        """When this run's time budget ends, on the ``time.monotonic`` clock (None: no budget)."""
        return self._started + self.run_budget if self.run_budget else None


@cache
def _adapters() -> dict[str, TypeAdapter]:
    hints = get_type_hints(Context, include_extras=True)
    return {f.name: TypeAdapter(hints[f.name]) for f in fields(Context)}


NAMES = {"threshold": "threshold τ", "max_iterations": "max_iterations T"}


def _choices(hint: Any) -> tuple | None:
    """The values a ``Literal`` (or optional ``Literal``) field takes; None for other types."""
    hint = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    if get_origin(hint) is Literal:
        return get_args(hint)
    literal = next((a for a in get_args(hint) if get_origin(a) is Literal), None)
    return get_args(literal) if literal is not None else None


def _problem(name: str, value: Any, exc: ValidationError) -> str:
    choices = _choices(get_type_hints(Context, include_extras=True)[name])
    if choices is not None:
        return choice_problem(name, value, choices)
    error = exc.errors()[0]
    return f"{NAMES.get(name, name)}: {error['msg'][0].lower()}{error['msg'][1:]}, got {value!r}"


def validate_context(ctx: Context) -> Context:
    """Raise InputError naming the first field whose value has the wrong type or is out of range
    (strict: ``"no"`` is not a boolean, ``"7"`` not an integer)."""
    for name, adapter in _adapters().items():
        value = getattr(ctx, name)
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError as exc:
            raise SettingError(_problem(name, value, exc)) from exc
    return ctx


SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(Context))


def unknown_setting(name: Any) -> SettingError:
    """The one line for a setting that does not exist, with the closest name when there is one."""
    close = difflib.get_close_matches(str(name), SETTINGS, n=1, cutoff=0.6)
    return SettingError(f"no setting {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))


def check_setting_names(values: Mapping[str, Any]) -> None:
    """Refuse a name that is not a setting (a served graph checks a client's context with this:
    LangGraph's server drops unknown keys silently before the graph sees them)."""
    for name in values:
        if name not in SETTINGS:
            raise unknown_setting(name)


def make_context(values: Context | Mapping[str, Any] | None = None, /, **overrides: Any) -> Context:
    """The one way to build run settings: ``values`` (a Context, a mapping of setting names to
    values, or None for the defaults) with ``overrides`` on top (None: not given). An unknown
    name or a value of the wrong type or out of range is an InputError of one line, e.g.
    ``no setting 'threshhold' (did you mean 'threshold'?)``; the result is a fresh Context
    (its run budget starts now)."""
    if values is not None and not isinstance(values, Context | Mapping):
        raise SettingError(f"settings must be a mapping of setting names to values, got {type(values).__name__}")
    given = {} if values is None or isinstance(values, Context) else dict(values)
    given.update((k, v) for k, v in overrides.items() if v is not None)
    check_setting_names(given)
    return validate_context(replace(values if isinstance(values, Context) else Context(), **given))
