"""Any LangChain chat model as target (hosted APIs, an OpenAI-compatible vLLM server, llama.cpp).

The media go in as content blocks chosen by the model's modalities (``media_blocks``): native
video where the provider takes it, frames + audio, frames + digest, or the digest alone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables.config import get_executor_for_config

from aurelia.media.received import Received
from aurelia.models.messages import TunedModel, build_messages, with_generation_settings
from aurelia.models.registry import RoleModel, as_role_model, resolve_model
from aurelia.models.retry import RequestTally, acall_with_retry, call_with_retry
from aurelia.models.structured import reply_text, reply_usage
from aurelia.prompts.format import target_prompt
from aurelia.targets.base import Target, TargetAnswer, TargetSample, TargetSettings


class ChatTarget(Target):
    """A target backed by a LangChain chat model; a batch's requests run concurrently, ``batch_size``
    at a time (in threads for :meth:`answer_batch`, on the event loop for :meth:`aanswer_batch`)."""

    def __init__(self, model: RoleModel | BaseChatModel, settings: TargetSettings | None = None) -> None:
        self.settings = settings or TargetSettings()
        rm = as_role_model(model, name="target-instance")
        self.base: RoleModel = rm  # as given: a variant sets its own generation settings on it
        if not isinstance(rm, TunedModel):  # an instance keeps its reply length, and samples as set here
            rm = with_generation_settings(rm, None, self.settings.sampling_temperature, self.settings.seed)
        self.rm: TunedModel = rm
        self.sampling = rm.sampling()
        self.name = self.rm.spec.label

    @classmethod
    def from_string(cls, raw: str, settings: TargetSettings | None = None) -> ChatTarget:
        """Resolve a model string (built once per process); greedy unless ``do_sample``."""
        settings = settings or TargetSettings()
        rm = resolve_model(raw, settings.request_timeout)
        return cls(with_generation_settings(rm, settings.max_new_tokens, settings.sampling_temperature, settings.seed), settings)

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "family": "chat model", "takes": sorted(self.rm.modalities - {"text"})}

    def variant(self, **changes: Any) -> ChatTarget:
        """The same chat model with other reply length, sampling or seed (set on its own fields)."""
        settings = replace(self.settings, **changes)
        length = changes.get("max_new_tokens")  # None: the reply length as built (an instance keeps its own)
        tuned = with_generation_settings(self.base, length, settings.sampling_temperature, settings.seed)
        twin = ChatTarget(tuned, settings)
        twin.name = self.name
        return twin

    def answer_batch(self, samples: list[TargetSample], config: dict[str, Any] | None = None) -> list[TargetAnswer]:
        started = time.perf_counter()
        prepared, results = self._prepare(samples, started)
        t0 = time.perf_counter()
        replies = self._call_all([m for _, m, _ in prepared], config or {})
        return self._collect(samples, prepared, replies, results, time.perf_counter() - t0, started)

    async def aanswer_batch(self, samples: list[TargetSample], config: dict[str, Any] | None = None) -> list[TargetAnswer]:
        """:meth:`answer_batch` on the event loop: the requests are ``ainvoke`` calls under the
        async retry policy (no thread per call); the media are encoded in a thread when the model
        takes more than text. The same answers as :meth:`answer_batch`."""
        started = time.perf_counter()
        if self.rm.modalities - {"text"}:
            prepared, results = await asyncio.to_thread(self._prepare, samples, started)
        else:
            prepared, results = self._prepare(samples, started)
        t0 = time.perf_counter()
        replies = await self._acall_all([m for _, m, _ in prepared], config or {})
        return self._collect(samples, prepared, replies, results, time.perf_counter() - t0, started)

    def _prepare(self, samples: list[TargetSample], started: float) -> tuple[list[tuple[int, list, Received]], list[TargetAnswer | None]]:
        """(index, messages, what the model receives) per usable sample, and the failures recorded so far."""
        prepared: list[tuple[int, list, Received]] = []
        results: list[TargetAnswer | None] = [None] * len(samples)
        for i, sample in enumerate(samples):
            try:
                prompt = target_prompt(
                    sample.question,
                    sample.choices,
                    sample.reasoning,
                    sample.inject,
                    answer_kind=sample.answer_kind,
                    position=sample.inject_position,
                    instruction=sample.instruction,
                )
                # media first, then the text: the order the local Hugging Face target has them in
                messages, received = build_messages(prompt, self.rm, sample.media, self.settings.frame_side, media_first=True)
                prepared.append((i, messages, received))
            except Exception as exc:  # recorded for this sample; the batch goes on
                results[i] = self.failed(sample, exc, started)
        return prepared, results

    def _collect(
        self,
        samples: list[TargetSample],
        prepared: list[tuple[int, list, Received]],
        replies: list[tuple[Any, int]],
        results: list[TargetAnswer | None],
        gen_seconds: float,
        started: float,
    ) -> list[TargetAnswer]:
        """The answers, in the input order, from the replies (or their failures)."""
        share = gen_seconds / max(len(prepared), 1)
        for (i, _, received), (reply, attempts) in zip(prepared, replies, strict=True):
            sample = samples[i]
            if isinstance(reply, BaseException):
                results[i] = self.failed(sample, reply, started)
                results[i].attempts = attempts
                continue
            raw = reply_text(reply)
            usage = reply_usage({}, reply)
            received.prompt_tokens = usage.get("input_tokens")
            timing = {"generate_s": round(gen_seconds, 4), "batch_size": len(prepared)}
            results[i] = self.answered(sample, raw, received, share, timing, usage)
            results[i].attempts = attempts
        return [r for r in results if r is not None]

    def _call_all(self, batch: list[list], config: dict[str, Any]) -> list[tuple[Any, int]]:
        """(reply or exception, attempts) per prompt, ``batch_size`` at a time, each under the retry policy."""

        def one(messages: list) -> tuple[Any, int]:
            tally = RequestTally()
            try:
                return call_with_retry(
                    lambda: self.rm.model.invoke(messages, config=config), self.rm.limits, self.name, tally
                ), tally.attempts
            except Exception as exc:  # recorded for this sample; the batch goes on
                return exc, tally.attempts

        if not batch:
            return []
        with get_executor_for_config({**config, "max_concurrency": self.settings.batch_size}) as executor:
            return list(executor.map(one, batch))

    async def _acall_all(self, batch: list[list], config: dict[str, Any]) -> list[tuple[Any, int]]:
        """:meth:`_call_all` as ``ainvoke`` calls on the loop, ``batch_size`` at a time."""
        limit = asyncio.Semaphore(self.settings.batch_size)

        async def one(messages: list) -> tuple[Any, int]:
            tally = RequestTally()
            async with limit:
                try:
                    reply = await acall_with_retry(lambda: self.rm.model.ainvoke(messages, config=config), self.rm.limits, self.name, tally)
                except Exception as exc:  # recorded for this sample; the batch goes on
                    return exc, tally.attempts
            return reply, tally.attempts

        return list(await asyncio.gather(*(one(m) for m in batch)))
