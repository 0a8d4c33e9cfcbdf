"""The target interface: one sample or a batch in, answers out, with what each model received.

A sample holds the ``media`` reference built by ``prepare_media`` (paths, hash, digest,
keyframe times; never bytes), the question, optional choices, an optional r* and the
injection mode. Every back-end (local Hugging Face, LangChain chat model) returns the same
:class:`TargetAnswer`, so benchmarks compare targets on equal terms.
"""

from __future__ import annotations

import asyncio
import copy
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from aurelia.errors import AureliaError, InputError, ModelCallError, describe_failure
from aurelia.media.prepare import prepare_media
from aurelia.media.received import Received
from aurelia.media.ref import MediaRef
from aurelia.models.hf.settings import HFSettings
from aurelia.models.retry import DEFAULT_TIMEOUT_S
from aurelia.parsing import read_answer
from aurelia.prompts.format import injection_text
from aurelia.schemas import AnswerKind, InjectPosition, TargetPromptMode, check_choice, check_question


@dataclass(frozen=True)
class TargetSample:
    """One question about one clip; ``reasoning`` is r* ({"steps": [...], "final_answer": ...})."""

    media: MediaRef
    question: str
    choices: list[str] | None = None
    reasoning: dict[str, Any] | None = None
    inject: str | None = None  # None: "steps" with a reasoning, else "none" (the zero-shot baseline); "cot": no r*, reason first
    sample_id: str | None = None
    answer_kind: str = "short"  # an open answer: "short" (word or phrase), "sentence" or "caption" (paragraph)
    inject_position: str = "after_choices"  # or "before_question" (the paper prepends r*)
    instruction: str | None = None  # what to reply, word for word (a benchmark task's); None: per answer_kind

    def __post_init__(self) -> None:
        check_question(self.question, self.choices)
        if self.inject is None:
            object.__setattr__(self, "inject", "steps" if self.reasoning else "none")
        check_choice("inject", self.inject, TargetPromptMode)
        if self.inject not in ("none", "cot") and not self.reasoning:
            raise InputError(f"inject mode {self.inject!r} needs a reasoning r* (or use inject='none' for the zero-shot baseline)")
        if self.inject == "cot" and self.reasoning:
            raise InputError("inject mode 'cot' has the target reason itself: give no r*")
        check_choice("answer_kind", self.answer_kind, AnswerKind)
        check_choice("inject_position", self.inject_position, InjectPosition)

    @classmethod
    def from_files(
        cls,
        video: str | Path,
        question: str,
        *,
        audio: str | Path | None = None,
        choices: list[str] | None = None,
        reasoning: dict[str, Any] | None = None,
        inject: str | None = None,
        num_frames: int = 5,
        sample_id: str | None = None,
        answer_kind: str = "short",
        inject_position: str = "after_choices",
    ) -> TargetSample:
        """Probe and measure the media (cached per process) and build the sample."""
        media = prepare_media(str(video), str(audio) if audio else None, num_frames)
        return cls(media, question, choices or None, reasoning, inject, sample_id, answer_kind, inject_position)


@dataclass
class TargetAnswer:
    """The target's answer for one sample, with what it received and what it cost."""

    text: str
    answer: str | None
    letter: str | None
    model: str
    inject: str
    injected: str
    received: Received
    seconds: float  # this sample's share of the wall time (media + its share of the batch)
    timing: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    sample_id: str | None = None
    error: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)  # {"temperature", "seed"} the reply was generated with
    extracted: dict[str, Any] | None = None  # with an LLM extractor: see aurelia.targets.extract
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    attempts: int = 1  # requests made for this answer, retries included

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("exception")
        return data


TARGET_MAX_TOKENS = 64  # the one default of a target's reply length: short answers (run settings, CLI, bench)


@dataclass(frozen=True)
class TargetSettings(HFSettings):
    """Generation settings of a target on top of the local runtime's load options and input
    budget; the defaults suit benchmarks (greedy, short answers)."""

    max_new_tokens: int = TARGET_MAX_TOKENS
    batch_size: int = 8
    do_sample: bool = False  # greedy by default: reproducible benchmarks
    temperature: float = 0.7  # only with do_sample
    seed: int = 0
    request_timeout: float = DEFAULT_TIMEOUT_S  # seconds per request to a hosted or served model

    @property
    def sampling_temperature(self) -> float:
        """The temperature replies are generated at: 0 (greedy) unless ``do_sample``."""
        return self.temperature if self.do_sample else 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.request_timeout > 0:
            raise InputError(f"request_timeout must be a positive number of seconds, got {self.request_timeout}")


class Target(ABC):
    """A model that answers with r* injected. ``answer_batch`` keeps the input order; a sample
    whose media cannot be read gets an answer with ``error`` set and the batch goes on."""

    name: str
    settings: TargetSettings
    sampling: dict[str, Any]  # {"temperature", "seed"} its replies are generated with

    @abstractmethod
    def answer_batch(self, samples: list[TargetSample], config: dict[str, Any] | None = None) -> list[TargetAnswer]:
        """Answer every sample; ``config`` (a LangChain RunnableConfig) names and tags traced calls."""
        ...

    def describe(self) -> dict[str, Any]:
        """What this target is (model, family, what it takes), for reports."""
        return {"model": self.name}

    def variant(self, **changes: Any) -> Target:
        """The same model with other generation settings (``TargetSettings`` fields: reply length,
        sampling, seed), sharing what is loaded: a benchmark's chain of thought needs a longer
        reply, self-consistency sampled ones. A back-end whose settings are bound at build time
        overrides this."""
        twin = copy.copy(self)
        twin.settings = replace(self.settings, **changes)
        twin.sampling = {"temperature": twin.settings.sampling_temperature, "seed": twin.settings.seed}
        return twin

    async def aanswer_batch(self, samples: list[TargetSample], config: dict[str, Any] | None = None) -> list[TargetAnswer]:
        """:meth:`answer_batch` from the event loop: in a thread unless the back-end has an async
        implementation (a chat model's does; a local model's batch is CPU/GPU work, kept in its thread)."""
        return await asyncio.to_thread(self.answer_batch, samples, config)

    def answer(self, sample: TargetSample, config: dict[str, Any] | None = None) -> TargetAnswer:
        """One sample; raises the typed error instead of recording it."""
        return self.raised(self.answer_batch([sample], config)[0])

    async def aanswer(self, sample: TargetSample, config: dict[str, Any] | None = None) -> TargetAnswer:
        """:meth:`answer` from the event loop (:meth:`aanswer_batch`)."""
        return self.raised((await self.aanswer_batch([sample], config))[0])

    def raised(self, result: TargetAnswer) -> TargetAnswer:
        """The answer, or its recorded failure raised as a typed error."""
        if isinstance(result.exception, AureliaError):
            raise result.exception
        if result.exception is not None:
            raise ModelCallError(f"target {self.name!r} failed ({describe_failure(result.exception)})") from result.exception
        return result

    def answered(
        self, sample: TargetSample, text: str, received: Received, seconds: float, timing: dict[str, float], usage: dict[str, int]
    ) -> TargetAnswer:
        """The record of a reply: the answer read from it (valid choices only) and what was injected."""

        answer, letter = read_answer(text, sample.choices)
        return TargetAnswer(
            text=text.strip(),
            answer=answer,
            letter=letter,
            model=self.name,
            inject=sample.inject,
            injected=injection_text(sample.reasoning, sample.inject),
            received=received,
            seconds=round(seconds, 4),
            timing=timing,
            usage=usage,
            sample_id=sample.sample_id,
            sampling=dict(self.sampling),
        )

    def failed(self, sample: TargetSample, exc: BaseException, started: float) -> TargetAnswer:

        reason = str(exc) if isinstance(exc, AureliaError) else describe_failure(exc)
        return TargetAnswer(
            text="",
            answer=None,
            letter=None,
            model=self.name,
            inject=sample.inject,
            injected=injection_text(sample.reasoning, sample.inject),
            received=Received(modalities=[]),
            seconds=round(time.perf_counter() - started, 4),
            sample_id=sample.sample_id,
            error=reason,
            exception=exc,
        )
