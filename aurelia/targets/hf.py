"""A local Hugging Face model as target: processor -> generate -> decode, batched.

Each sample gets the richest input the model takes (see ``plan_for``): an omni model gets
the video with its audio interleaved, an images+audio model gets keyframes and the waveform, a
vision-language model gets the video (or keyframes) plus the measured digest for the audio,
a text-only model gets the digest. Samples with the same input layout share one padded
``generate`` call (left padding, greedy by default), so a batch answers exactly as one-by-one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aurelia.errors import ModelConfigError
from aurelia.media import decode
from aurelia.media.ref import MediaRef, audio_track, video_seconds
from aurelia.models.hf import io as hf_io
from aurelia.models.hf.load import Capabilities, LoadedModel, allowed_capabilities, load_model, requested_modalities
from aurelia.models.spec import parse_model_string
from aurelia.prompts.format import keyframe_label, target_prompt
from aurelia.targets.base import Received, Target, TargetAnswer, TargetSample, TargetSettings


@dataclass(frozen=True)
class Plan:
    """The input layout of one sample; samples with equal plans are batched together."""

    video: bool = False
    images: bool = False
    audio: bool = False  # a standalone audio slot
    audio_in_video: bool = False  # the video's own audio, interleaved (omni)
    digest: bool = False
    fps: float | None = None  # video sampling rate (one per processor call)


@dataclass
class Prepared:
    index: int
    sample: TargetSample
    plan: Plan
    text: str
    received: Received
    media_seconds: float
    video: np.ndarray | None = None
    images: list[np.ndarray] = field(default_factory=list)
    audio: np.ndarray | None = None
    features: Any = None  # the processor's output for this sample alone


def plan_for(caps: Capabilities, media: MediaRef, settings: TargetSettings, temporal: int) -> tuple[Plan, list[float]]:
    """The richest input for this model and clip; returns the plan and the frame times.

    Candidate audio clips (Dance-Music matching) reach a local model as their measurements in
    the digest: one waveform slot per prompt is what these processors take."""
    has_audio = audio_track(media) is not None
    options = bool(media["audio_candidates"])
    own_audio = has_audio and not media["audio"]
    if caps.video:
        times, fps = decode.video_times(video_seconds(media), settings.fps, settings.max_frames, temporal)
        interleave = caps.audio_in_video and own_audio
        standalone = caps.audio and has_audio and not interleave
        plan = Plan(
            video=True, audio=standalone, audio_in_video=interleave, digest=options or (has_audio and not caps.audio), fps=round(fps, 4)
        )
        return plan, times
    if caps.image:
        times = list(media["keyframe_times"] or [0.0])
        return Plan(images=True, audio=caps.audio and has_audio, digest=options or (has_audio and not caps.audio)), times
    if caps.audio and has_audio:
        return Plan(audio=True, digest=True), []  # audio-language model: the visuals come as the digest
    return Plan(digest=True), []


class HFTarget(Target):
    """``hf:<hub id or local path>`` as target; the model is loaded once per process."""

    def __init__(self, raw: str, settings: TargetSettings | None = None) -> None:
        spec = parse_model_string(raw)
        if spec.provider != "hf":
            raise ModelConfigError(f"not a Hugging Face model string: {raw!r} (use hf:<hub id or local path>)")
        self.name = raw
        self.settings = settings or TargetSettings()
        self.loaded: LoadedModel = load_model(spec.name, self.settings)
        self.caps = allowed_capabilities(self.loaded.caps, requested_modalities(raw), raw)
        self.sampling = {"temperature": self.settings.sampling_temperature, "seed": self.settings.seed}

    # ----------------------------------------------------------------- input building
    @property
    def _processor(self) -> Any:
        return self.loaded.processor

    def _audio_rate(self) -> int:
        return hf_io.audio_rate(self._processor)

    def _audio_limit(self) -> float | None:
        return hf_io.audio_limit(self._processor, self.settings.max_audio_seconds)

    def prepare(self, index: int, sample: TargetSample) -> Prepared:
        """Decode the media, render the chat text and run the processor for this sample alone
        (no model call): a sample whose media or processing fails fails alone."""
        start = time.perf_counter()
        plan, times = plan_for(self.caps, sample.media, self.settings, hf_io.temporal_patch(self._processor))
        rec = Received(modalities=["text"], digest=plan.digest)
        item = Prepared(index, sample, plan, "", rec, 0.0)
        parts: list[dict[str, Any]] = []
        if plan.video or plan.images:
            frames = decode.frames_at(sample.media["video"], sample.media["sha256"], times, self.settings.frame_side)
            rec.frames, rec.frame_times = len(frames), times
            rec.frame_size = [int(frames[0].shape[1]), int(frames[0].shape[0])]
            if plan.video:
                item.video = np.stack(frames)
                rec.fps = plan.fps
                rec.modalities.append("video")
                parts.append({"type": "video"})
            else:
                item.images = frames
                rec.modalities.append("image")
                for t in times:
                    parts += [{"type": "text", "text": keyframe_label(t)}, {"type": "image"}]
        if plan.audio or plan.audio_in_video:
            wave_, full = decode.waveform(audio_track(sample.media), self._audio_rate(), self._audio_limit())
            item.audio = wave_
            rec.audio_seconds = round(wave_.size / self._audio_rate(), 3)
            rec.audio_truncated = full > rec.audio_seconds + 0.05
            rec.audio_in_video = plan.audio_in_video
            rec.modalities.append("audio")
            if plan.audio:
                parts.append({"type": "audio"})
        if plan.digest:
            rec.modalities.append("digest")
        prompt = target_prompt(
            sample.question,
            sample.choices,
            sample.reasoning,
            sample.inject,
            facts=sample.media["digest"] if plan.digest else "",
            answer_kind=sample.answer_kind,
            position=sample.inject_position,
            instruction=sample.instruction,
        )
        item.text = self._chat_text(prompt.system, prompt.user, parts)
        item.features = self._processor(**self._call_kwargs([item]))
        item.received.prompt_tokens = int(item.features["attention_mask"].sum())
        item.received.media_tokens = hf_io.count_media_tokens(self._processor, item.features["input_ids"][0])
        item.media_seconds = time.perf_counter() - start
        return item

    def _chat_text(self, system: str, user: str, parts: list[dict[str, Any]]) -> str:
        """The model's own chat template; the media placeholders come before the question."""
        user_content: Any = [*parts, {"type": "text", "text": user}] if parts else user
        return hf_io.render_chat(self.loaded, [{"role": "system", "content": system}, {"role": "user", "content": user_content}])

    def _call_kwargs(self, group: list[Prepared]) -> dict[str, Any]:
        plan = group[0].plan
        return hf_io.processor_kwargs(
            self.loaded,
            [p.text for p in group],
            max_pixels=self.settings.max_pixels,
            videos=[p.video for p in group] if plan.video else None,
            fps=plan.fps,
            images=[p.images for p in group] if plan.images else None,
            audio=[p.audio for p in group] if plan.audio or plan.audio_in_video else None,
            # audio slot i is the decoded track of video i: interleaved in time with its frames
            audio_from_video=list(range(len(group))) if plan.audio_in_video else None,
        )

    # ----------------------------------------------------------------- generation
    def _generate(self, group: list[Prepared]) -> tuple[list[str], list[int], float]:
        lm = self.loaded
        # each sample was processed alone (per-sample errors, no batch-wide padding of audio or
        # frames); stack those outputs, or run the processor on the whole group if they do not stack
        inputs = collate([p.features for p in group], lm.tokenizer.pad_token_id)
        if inputs is None:
            inputs = lm.processor(**self._call_kwargs(group))
        gen = hf_io.generation_config(lm, self.settings.max_new_tokens, self.settings.do_sample, self.settings.temperature)
        return hf_io.generate(lm, inputs, gen, audio_in_video=group[0].plan.audio_in_video, seed=self.settings.seed)

    # ----------------------------------------------------------------- public
    def answer_batch(self, samples: list[TargetSample], config: dict[str, Any] | None = None) -> list[TargetAnswer]:
        """Answers in input order. Samples are prepared one by one into buckets of equal input
        layout; a full bucket runs as one ``generate`` call, so memory stays bounded."""
        results: list[TargetAnswer | None] = [None] * len(samples)
        buckets: dict[Plan, list[Prepared]] = {}
        for i, sample in enumerate(samples):
            started = time.perf_counter()
            try:
                item = self.prepare(i, sample)
            except Exception as exc:  # recorded for this sample; the batch goes on
                results[i] = self.failed(sample, exc, started)
                continue
            bucket = buckets.setdefault(item.plan, [])
            bucket.append(item)
            if len(bucket) >= self.settings.batch_size:
                self._run_group(buckets.pop(item.plan), results)
        for bucket in buckets.values():
            self._run_group(bucket, results)
        return [r for r in results if r is not None]

    def _run_group(self, group: list[Prepared], results: list[TargetAnswer | None]) -> None:
        t0 = time.perf_counter()
        texts, out_tokens, gen_seconds = self._generate(group)
        batch_seconds = time.perf_counter() - t0  # collate + generate + decode
        share = batch_seconds / len(group)
        for item, text, n_out in zip(group, texts, out_tokens, strict=True):
            sample = item.sample
            n_in = item.received.prompt_tokens or 0
            timing = {
                "media_s": round(item.media_seconds, 4),
                "batch_s": round(batch_seconds, 4),
                "generate_s": round(gen_seconds, 4),
                "batch_size": len(group),
            }
            usage = {"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out}
            results[item.index] = self.answered(sample, text, item.received, item.media_seconds + share, timing, usage)

    def describe(self) -> dict[str, Any]:
        lm = self.loaded
        return {
            "model": self.name,
            "model_type": lm.model_type,
            "family": self.caps.family,
            "takes": self.caps.names(),
            "dtype": lm.dtype,
            "device": lm.device,
            "attention": lm.attn_implementation,
            "load_seconds": lm.load_seconds,
        }


TEXT_KEYS = {"input_ids": None, "attention_mask": 0, "token_type_ids": 0, "mm_token_type_ids": 0}


def collate(features: list[Any], pad_id: int | None) -> Any:
    """Stack per-sample processor outputs into one batch: token rows left-padded, everything
    else concatenated along the first axis (Qwen-style flat patches, audio features, grids).
    None when some entry does not stack that way (the caller then processes the group whole)."""
    import torch
    from transformers import BatchFeature

    if len(features) == 1:
        return features[0]
    keys = set(features[0].keys())
    if any(set(f.keys()) != keys for f in features):
        return None
    out: dict[str, Any] = {}
    for key in keys:
        values = [f[key] for f in features]
        if not all(isinstance(v, torch.Tensor) and v.dim() >= 1 for v in values):
            return None
        if key in TEXT_KEYS:
            width = max(v.shape[-1] for v in values)
            fill = pad_id if TEXT_KEYS[key] is None else TEXT_KEYS[key]
            if fill is None:
                return None
            out[key] = torch.cat([torch.nn.functional.pad(v, (width - v.shape[-1], 0), value=fill) for v in values])
        elif all(v.shape[1:] == values[0].shape[1:] for v in values):
            out[key] = torch.cat(values)
        else:
            return None
    return BatchFeature(out)
