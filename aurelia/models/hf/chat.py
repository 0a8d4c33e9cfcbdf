"""``hf:<hub id or local path>`` as a LangChain chat model for any agent role.

Backed by the target's loader (``aurelia.models.hf.load.load_model``): one model per process,
shared by every role and the target, with its processor and detected capabilities. Messages may
hold standard content blocks (text, image, audio, video; base64 or a local file by URL); they
are decoded with PyAV / Pillow into frames and 16 kHz waveforms and handed to the processor the
way the target does it (``aurelia.models.hf.io``): an omni model gets a video with its own audio
interleaved, a vision-language model frames or video, a text LM text. Decoding is greedy at
temperature 0 (the default) and samples, seeded, above it, so the generator's schedule
(greedy first try, sampled retries) holds for ``hf:`` models too.

Structured output: no tool calling, so ``with_structured_output`` is not offered and
``aurelia.models.structured`` parses the JSON the prompts ask for (then one repair prompt).
Needs the optional ``hf`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from aurelia.errors import ModelConfigError
from aurelia.media import decode
from aurelia.models.hf import io as hf_io
from aurelia.models.hf.load import Capabilities, LoadedModel, allowed_capabilities, load_model, requested_modalities
from aurelia.models.hf.settings import HFSettings
from aurelia.models.llamacpp import _ROLES


@dataclass
class _Inputs:
    """The decoded media of one conversation, in placeholder order, and what was decoded."""

    videos: list[np.ndarray] = field(default_factory=list)
    fps: float | None = None
    images: list[np.ndarray] = field(default_factory=list)
    audio: list[np.ndarray] = field(default_factory=list)
    audio_from_video: list[int | None] = field(default_factory=list)  # per audio slot: its video, or None
    received: dict[str, Any] = field(default_factory=lambda: {"frames": 0, "audio_seconds": 0.0, "audio_truncated": False})


class ChatHF(BaseChatModel):
    """A local Hugging Face model as chat model; ``modalities`` is what it may be sent."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_name: str  # hub id or local directory
    model_string: str = ""  # the role's model string, for messages and metadata
    modalities: frozenset[str] = frozenset({"text"})
    max_tokens: int = 384
    temperature: float = 0.0  # 0: greedy
    seed: int = 0  # seeds sampling (temperature > 0)
    settings: HFSettings = Field(default_factory=HFSettings)  # load options, frame and audio budget

    @property
    def _llm_type(self) -> str:
        return "hf-local"

    @property
    def loaded(self) -> LoadedModel:
        """The process-wide model (the same object the HF target uses)."""
        return load_model(self.model_name, self.settings)

    @property
    def caps(self) -> Capabilities:
        """The model's capabilities narrowed to ``modalities``."""
        return allowed_capabilities(self.loaded.caps, self.modalities, self._label())

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any
    ) -> ChatResult:
        lm, caps = self.loaded, self.caps
        inputs = _Inputs()
        turns = [{"role": _ROLES.get(m.type, "user"), "content": self._parts(m, caps, inputs)} for m in messages]
        text = hf_io.render_chat(lm, turns)
        features = lm.processor(
            **hf_io.processor_kwargs(
                lm,
                [text],
                max_pixels=self.settings.max_pixels,
                videos=inputs.videos or None,
                fps=inputs.fps,
                images=[inputs.images] if inputs.images else None,
                audio=inputs.audio or None,
                audio_from_video=inputs.audio_from_video,
            )
        )
        n_in = int(features["attention_mask"].sum())
        media_tokens = hf_io.count_media_tokens(lm.processor, features["input_ids"][0])
        temperature = float(kwargs.get("temperature", self.temperature))
        gen = hf_io.generation_config(lm, int(kwargs.get("max_tokens") or self.max_tokens), temperature > 0, temperature)
        interleaved = any(i is not None for i in inputs.audio_from_video)
        (out,), (n_out,), seconds = hf_io.generate(lm, features, gen, audio_in_video=interleaved, seed=int(kwargs.get("seed", self.seed)))
        for s in stop or []:
            out = out.split(s)[0]
        usage = {"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out}
        meta = {"model_name": self.model_string or self.model_name, "generate_s": round(seconds, 4), "media_tokens": media_tokens}
        meta["sampling"] = {"temperature": temperature, "seed": int(kwargs.get("seed", self.seed)) if temperature > 0 else None}
        meta["received"] = inputs.received
        message = AIMessage(content=out, usage_metadata=usage, response_metadata=meta)
        return ChatResult(generations=[ChatGeneration(message=message)])

    # ----------------------------------------------------------------- content blocks
    def _parts(self, message: BaseMessage, caps: Capabilities, inputs: _Inputs) -> list[dict[str, Any]]:
        """Template parts of one message; media blocks are decoded into ``inputs``."""
        content = message.content
        if isinstance(content, str):
            return [{"type": "text", "text": content}]
        parts: list[dict[str, Any]] = []
        for block in content:
            kind = "text" if isinstance(block, str) else block.get("type")
            if kind == "text":
                parts.append({"type": "text", "text": block if isinstance(block, str) else block["text"]})
            elif kind in ("image", "video", "audio"):
                if not getattr(caps, kind):
                    takes = ", ".join(caps.names()) or "text only"
                    article = "a" if kind == "video" else "an"
                    raise ModelConfigError(
                        f"model {self._label()!r} was sent {article} {kind} block but takes no {kind} input (it takes: {takes})"
                    )
                parts += getattr(self, f"_{kind}")(block, caps, inputs)
            else:
                raise ModelConfigError(f"model {self._label()!r} takes standard content blocks (text, image, audio, video), not {kind!r}")
        return parts

    def _image(self, block: dict, caps: Capabilities, inputs: _Inputs) -> list[dict]:
        path, key = decode.block_file(block)
        extras = block.get("extras") or {}
        if "time" in extras:  # a frame of a video file, by reference
            side = int(extras.get("max_side") or self.settings.frame_side)
            frame = decode.frames_at(path, key, [float(extras["time"])], side)[0]
        else:
            frame = decode.image_file(path)
        inputs.images.append(frame)
        inputs.received["frames"] += 1
        return [{"type": "image"}]

    def _video(self, block: dict, caps: Capabilities, inputs: _Inputs) -> list[dict]:
        from aurelia.media.probe import probe

        path, key = decode.block_file(block)
        extras = block.get("extras") or {}
        info = probe(path) if "duration_s" not in extras or (caps.audio and "audio" not in extras) else None
        duration = extras["duration_s"] if "duration_s" in extras else info.duration_s
        # the video's own track: as the block says (a separate audio file replaces it), else if it has one
        own_audio = caps.audio and (extras["audio"] if "audio" in extras else info.audio is not None)
        times, fps = decode.video_times(
            float(duration), self.settings.fps, self.settings.max_frames, hf_io.temporal_patch(self.loaded.processor)
        )
        inputs.videos.append(np.stack(decode.frames_at(path, key, times, self.settings.frame_side)))
        inputs.fps = inputs.fps or round(fps, 4)
        inputs.received["frames"] += len(times)
        if own_audio:
            self._add_audio((path, key), inputs, len(inputs.videos) - 1 if caps.audio_in_video else None)
            if not caps.audio_in_video:
                return [{"type": "video"}, {"type": "audio"}]
        return [{"type": "video"}]

    def _audio(self, block: dict, caps: Capabilities, inputs: _Inputs) -> list[dict]:
        path, key = decode.block_file(block)
        self._add_audio((path, key), inputs, None)
        return [{"type": "audio"}]

    def _add_audio(self, track: tuple[str, str], inputs: _Inputs, from_video: int | None) -> None:
        proc = self.loaded.processor
        wave, full = decode.waveform(track, hf_io.audio_rate(proc), hf_io.audio_limit(proc, self.settings.max_audio_seconds))
        seconds = wave.size / hf_io.audio_rate(proc)
        inputs.audio.append(wave)
        inputs.audio_from_video.append(from_video)
        inputs.received["audio_seconds"] = round(inputs.received["audio_seconds"] + seconds, 3)
        inputs.received["audio_truncated"] |= full > seconds + 0.05

    def _label(self) -> str:
        return self.model_string or f"hf:{self.model_name}"


def load_hf_chat(raw: str, name: str, settings: HFSettings | None = None) -> ChatHF:
    """Load (once per process) and wrap; a ``#video+audio`` suffix narrows what it is sent and
    asking for a modality its processor lacks is a ModelConfigError."""
    settings = settings or HFSettings()
    loaded = load_model(name, settings)
    caps = allowed_capabilities(loaded.caps, requested_modalities(raw), raw)
    return ChatHF(model_name=name, model_string=raw, modalities=caps.modalities, settings=settings)
