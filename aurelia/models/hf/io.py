"""Processor inputs and generation (greedy, or seeded sampling) shared by every use of a local Hugging Face model.

The target back-end (:mod:`aurelia.targets.hf`) and the agent chat model
(:mod:`aurelia.models.hf.chat`) both turn decoded frames, videos and waveforms into one
processor call and one ``generate`` call; this module is that one way of doing it.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from aurelia.errors import ModelCallError, ModelConfigError
from aurelia.models.hf.load import LoadedModel
from aurelia.models.retry import current_deadline


def audio_part(processor: Any) -> Any:
    return getattr(processor, "feature_extractor", None) or getattr(processor, "audio_processor", None)


def audio_rate(processor: Any) -> int:
    """Sampling rate the audio processor expects (16 kHz for Whisper-style extractors)."""
    return int(getattr(audio_part(processor), "sampling_rate", 16_000) or 16_000)


def audio_limit(processor: Any, max_audio_seconds: float | None) -> float | None:
    """Seconds the audio processor takes in one go (Whisper-style: n_samples), or the setting."""
    if max_audio_seconds:
        return max_audio_seconds
    n = getattr(audio_part(processor), "n_samples", None)
    return n / audio_rate(processor) if n else None


def temporal_patch(processor: Any) -> int:
    """Frames per temporal patch of the video processor (video frame counts must be a multiple)."""
    return int(getattr(getattr(processor, "video_processor", None), "temporal_patch_size", 1) or 1)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] for p in content if p.get("type") == "text")


def _as_parts(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def render_chat(loaded: LoadedModel, turns: list[dict[str, Any]]) -> str:
    """The model's own chat template over ``turns`` ({"role", "content": str or [parts]}); media
    parts are placeholders ({"type": "video"}) the processor expands. A multimodal processor's
    template is used when it has one; a text LM's tokenizer template otherwise, else plain text."""
    proc, tok = loaded.processor, loaded.tokenizer
    if proc is not tok and getattr(proc, "chat_template", None):
        return apply_template(proc, [{"role": t["role"], "content": _as_parts(t["content"])} for t in turns])
    if any(p.get("type") != "text" for t in turns for p in _as_parts(t["content"])):
        raise ModelConfigError("the processor has no chat template, so the media placeholders cannot be placed", path=loaded.source)
    flat = [{"role": t["role"], "content": _text_of(t["content"])} for t in turns]
    if not getattr(tok, "chat_template", None):
        body = "\n\n".join(("Answer: " if t["role"] == "assistant" else "") + t["content"] for t in flat)
        return f"{body}\n\nAnswer:"
    return apply_template(tok, flat)


def apply_template(proc: Any, turns: list[dict[str, Any]]) -> str:
    """Render the chat; templates that refuse a system turn get it folded into the first user turn."""
    try:
        return proc.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    except Exception:  # e.g. "System role not supported" raised by the template
        if not turns or turns[0]["role"] != "system" or len(turns) < 2:
            raise
        system, first, rest = turns[0], turns[1], turns[2:]
        if isinstance(first["content"], str):
            merged: Any = f"{_text_of(system['content'])}\n\n{first['content']}"
        else:
            parts = list(first["content"])
            last_text = max((i for i, p in enumerate(parts) if p.get("type") == "text"), default=None)
            text = _text_of(system["content"])
            if last_text is None:
                parts.append({"type": "text", "text": text})
            else:
                parts[last_text] = {"type": "text", "text": f"{text}\n\n{parts[last_text]['text']}"}
            merged = parts
        return proc.apply_chat_template([{**first, "content": merged}, *rest], tokenize=False, add_generation_prompt=True)


def processor_kwargs(
    loaded: LoadedModel,
    texts: list[str],
    *,
    max_pixels: int,
    videos: list[Any] | None = None,
    fps: float | None = None,
    images: list[list[Any]] | None = None,
    audio: list[Any] | None = None,
    audio_from_video: list[int | None] | None = None,
) -> dict[str, Any]:
    """One processor call's arguments. ``audio_from_video`` names each audio slot's source: the
    index of the video whose own track it is (interleaved in time with its frames, omni), or
    None for a standalone clip whose placeholder is in the text."""
    proc = loaded.processor
    kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
    if videos:
        kwargs["videos"] = videos
        kwargs["videos_kwargs"] = {"do_sample_frames": False, "fps": fps, **size_kwargs(proc, "videos_kwargs", max_pixels)}
    if images:
        kwargs["images"] = images
        kwargs["images_kwargs"] = size_kwargs(proc, "images_kwargs", max_pixels)
    if audio:
        kwargs["audio"] = audio
        if audio_from_video and any(i is not None for i in audio_from_video):
            kwargs["audio_from_video_indices"] = audio_from_video
            kwargs["load_audio_from_video"] = True
        kwargs["audio_kwargs"] = {"sampling_rate": audio_rate(proc)}
    return {k: v for k, v in kwargs.items() if v != {}}


def size_kwargs(processor: Any, which: str, max_pixels: int) -> dict[str, Any]:
    """Cap pixels per frame for processors that resize by pixel count (Qwen-VL / Omni)."""
    part = getattr(processor, "video_processor" if which == "videos_kwargs" else "image_processor", None)
    valid = getattr(getattr(part, "valid_kwargs", None), "__annotations__", {})
    if part is None or "max_pixels" not in valid:
        return {}
    low = _default_min_pixels(processor, which)
    extra = {"cap_pixels_per_frame": True} if which == "videos_kwargs" and "cap_pixels_per_frame" in valid else {}
    return {"size": {"shortest_edge": min(low, max_pixels) if low else min(max_pixels, 56 * 56), "longest_edge": max_pixels}, **extra}


def _default_min_pixels(processor: Any, which: str) -> int:
    """The smallest frame (in pixels) a processor call resizes to by default (processor-level
    defaults, e.g. Qwen-Omni's, win over the part's own)."""
    size = None
    try:
        merged = processor._merge_kwargs(processor.valid_processor_kwargs, tokenizer_init_kwargs=processor.tokenizer.init_kwargs)
        size = merged.get(which, {}).get("size")
    except Exception:  # private API; fall back to the part's own size
        pass
    if size is None:
        part = getattr(processor, "video_processor" if which == "videos_kwargs" else "image_processor", None)
        size = getattr(part, "size", None)
    if size is None:
        return 0
    value = size.get("shortest_edge") if isinstance(size, dict) else getattr(size, "shortest_edge", None)
    return int(value or 0)


def count_media_tokens(processor: Any, row: Any) -> dict[str, int]:
    """Placeholder tokens per modality in one row of input ids."""
    counts = {}
    for kind in ("video", "image", "audio"):
        token_id = getattr(processor, f"{kind}_token_id", None)
        if isinstance(token_id, int):
            n = int((row == token_id).sum())
            if n:
                counts[kind] = n
    return counts


def generation_config(loaded: LoadedModel, max_new_tokens: int, do_sample: bool = False, temperature: float = 0.7):
    """The checkpoint's generation config with our budget: greedy unless ``do_sample`` (then
    at ``temperature``, with the checkpoint's own top-p/top-k)."""
    gen = copy.deepcopy(loaded.model.generation_config)
    gen.max_new_tokens = max_new_tokens
    gen.num_beams = 1
    gen.do_sample = do_sample
    if do_sample:
        gen.temperature = temperature
    else:
        gen.temperature = gen.top_p = gen.top_k = None
    tok = loaded.tokenizer
    if gen.pad_token_id is None:
        gen.pad_token_id = tok.pad_token_id
    if gen.eos_token_id is None:
        gen.eos_token_id = tok.eos_token_id
    return gen


def generate(loaded: LoadedModel, inputs: Any, gen: Any, *, audio_in_video: bool = False, seed: int | None = None):
    """Run ``generate`` under the model's lock; returns (texts, generated tokens per row, seconds).

    Under a deadline (a run's budget, :func:`aurelia.models.retry.current_deadline`), transformers'
    own ``max_time`` stopping criterion ends the generation between two decoding steps once it
    passes, and the cut answer is an error, never a result."""
    import torch

    ids = inputs["input_ids"]
    model = loaded.model
    inputs = inputs.to(model.device)
    for key, value in inputs.items():  # pixels and audio features in the model's dtype; 1-D timings stay fp32
        if torch.is_floating_point(value) and value.dim() >= 2:
            inputs[key] = value.to(model.dtype)
    extra = {"use_audio_in_video": True} if audio_in_video and loaded.accepts_audio_in_video_flag else {}
    deadline = current_deadline()
    with loaded.lock, torch.inference_mode():
        if gen.do_sample and seed is not None:
            torch.manual_seed(seed)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ModelCallError("the run's time budget is spent before the local model could answer")
            extra["max_time"] = left
        t0 = time.perf_counter()
        out = model.generate(**inputs, generation_config=gen, **extra)
        seconds = time.perf_counter() - t0
    if deadline is not None and time.monotonic() >= deadline:
        raise ModelCallError("the local model was stopped mid-answer: the run's time budget is spent")
    if not isinstance(out, torch.Tensor):
        out = out.sequences if hasattr(out, "sequences") else out[0]
    new = out[:, ids.shape[1] :]
    texts = loaded.tokenizer.batch_decode(new, skip_special_tokens=True)
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    return texts, [count_generated(row.tolist(), eos) for row in new], seconds


def count_generated(tokens: list[int], eos: list[int | None]) -> int:
    """New tokens up to and including the first end-of-sequence (the padding after it is not counted)."""
    for n, t in enumerate(tokens, start=1):
        if t in eos:
            return n
    return len(tokens)
