"""Content blocks for a model, from the media reference, what the model can take, and its provider.

- Frames and audio are LangChain's standard multimodal blocks (``{"type": "image", "base64":
  ..., "mime_type": "image/jpeg"}``, WAV audio), which each integration translates to its
  provider's format (OpenAI ``image_url``/``input_audio``, Anthropic image sources, …).
- What has no standard translation stays here: a video for OpenAI-compatible servers (vLLM…)
  as a ``video_url`` data URL, and Gemini's Files API for large videos.
- ``google_genai`` / ``google_vertexai``: the video file inline (its audio included) under the
  request size limit, else uploaded once with the Files API (cached by content hash) and sent
  by reference; separate audio as inline FLAC.
- ``hf`` (a local Hugging Face model run by Aurelia): standard blocks that reference the local
  file (``url: file://…``, ``extras``: content hash, keyframe time, duration) instead of
  carrying bytes: the model decodes them with the same cached PyAV readers as the HF target, so
  there is no JPEG/base64 round trip, no inline size limit, and traces stay small. A video's own
  audio counts as sent only when the model takes audio; otherwise the digest covers it.
- text-only models: the measured digest.

Encodings are cached per process by (content hash, settings), so one clip is encoded once
however many agents, iterations and providers use it; ``ENCODES`` counts the real encodes.
"""

from __future__ import annotations

import base64
import mimetypes
import time
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from threading import Lock
from typing import Any

import av
import numpy as np

from aurelia.errors import MediaError
from aurelia.media.audio import SAMPLE_RATE, flac_bytes, load_audio, wav_bytes
from aurelia.media.keyframes import extract_frames
from aurelia.media.received import Received
from aurelia.media.ref import MediaRef, audio_facts, audio_track, track_seconds
from aurelia.prompts.format import audio_label, facts_text, keyframe_label

INLINE_VIDEO_LIMIT = 20 * 1024 * 1024  # Gemini's inline request limit
AUDIO_MAX_S = 600.0
UPLOAD_WAIT_S = 600.0  # audio sent to a model is trimmed to this (the label says so)
VIDEO_MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".ogv": "video/ogg",
    ".ogg": "video/ogg",
    ".3gp": "video/3gpp",
    ".flv": "video/x-flv",
    ".wmv": "video/x-ms-wmv",
}
# the video types Gemini accepts (its documentation's list); others (e.g. Matroska) go as frames
GEMINI_VIDEO_MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mpeg": "video/mpeg",
    ".mpg": "video/mpg",
    ".mov": "video/mov",
    ".avi": "video/avi",
    ".flv": "video/x-flv",
    ".webm": "video/webm",
    ".wmv": "video/wmv",
    ".3gp": "video/3gpp",
}
OPENAI = {"openai", "azure_openai", "openai_compatible"}
GEMINI = {"google_genai", "google_vertexai"}
HF = {"hf"}

ENCODES: Counter[str] = Counter()  # real encodes (cache misses) per kind: jpeg, wav, flac, video, upload

Uploader = Callable[[str, str], str]  # (path, mime type) -> file URI


def jpeg_bytes(rgb: np.ndarray, quality: int = 4) -> bytes:
    """Encode one RGB frame as JPEG with FFmpeg's mjpeg encoder (qscale 2-31, lower is better)."""
    h, w = rgb.shape[:2]
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height = w, h
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    ctx.options = {"qscale": str(quality)}
    ctx.qmin = ctx.qmax = quality
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuvj420p")
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


@lru_cache(maxsize=32)
def encoded_frames(path: str, sha256: str, times: tuple[float, ...], max_side: int) -> tuple[str, ...]:
    """Base64 JPEGs of the keyframes (cache key includes the content hash)."""
    frames = extract_frames(path, list(times), max_side=max_side)
    ENCODES["jpeg"] += len(frames)
    return tuple(base64.b64encode(jpeg_bytes(f)).decode() for f in frames)


@lru_cache(maxsize=16)
def encoded_audio(path: str, sha256: str, fmt: str = "wav", max_seconds: float | None = AUDIO_MAX_S) -> tuple[str, float, bool]:
    """Base64 16 kHz mono WAV or FLAC of the first ``max_seconds``; returns (b64, seconds, trimmed)."""
    wave_, _ = load_audio(path, max_seconds=max_seconds)
    ENCODES[fmt] += 1
    data = flac_bytes(wave_) if fmt == "flac" else wav_bytes(wave_)
    seconds = wave_.size / SAMPLE_RATE
    trimmed = bool(max_seconds) and seconds >= max_seconds - 1.0 / SAMPLE_RATE
    return base64.b64encode(data).decode(), seconds, trimmed


@lru_cache(maxsize=4)
def encoded_file(path: str, sha256: str) -> str:
    """The file itself, base64 (only called for files under the inline limit)."""
    ENCODES["video"] += 1
    return base64.b64encode(Path(path).read_bytes()).decode()


# --- Gemini Files API, one upload per content hash per process ---------------------------------

_uploads: dict[str, str] = {}
_upload_lock = Lock()
_uploader: Uploader | None = None


def set_gemini_uploader(uploader: Uploader | None) -> None:
    """Use ``uploader(path, mime) -> file URI`` for large videos (None restores the google-genai client)."""
    global _uploader
    _uploader = uploader


def _google_genai_upload(path: str, mime: str) -> str:
    """Upload with the google-genai client and wait until Gemini has processed the file."""
    try:
        from google import genai
    except ImportError as exc:  # pragma: no cover - depends on the optional provider extra
        raise MediaError("video is over the inline limit and google-genai is not installed to upload it", path=path) from exc
    client = genai.Client()
    file = client.files.upload(file=path, config={"mime_type": mime})
    deadline = time.monotonic() + UPLOAD_WAIT_S
    while file.state and file.state.name == "PROCESSING":
        if time.monotonic() > deadline:
            raise MediaError(f"Gemini was still processing the uploaded video after {UPLOAD_WAIT_S:g}s", path=path)
        time.sleep(2)
        file = client.files.get(name=file.name)
    if file.state and file.state.name == "FAILED":
        raise MediaError("Gemini could not process the uploaded video", path=path)
    return file.uri


def gemini_file_uri(path: str, sha256: str, mime: str) -> str:
    """The uploaded file's URI, uploading only the first time a content hash is seen."""
    with _upload_lock:
        if sha256 not in _uploads:
            ENCODES["upload"] += 1
            _uploads[sha256] = (_uploader or _google_genai_upload)(path, mime)
        return _uploads[sha256]


def clear_caches() -> None:
    """Forget every cached encoding and upload (tests, or to free memory between runs)."""
    encoded_frames.cache_clear()
    encoded_audio.cache_clear()
    encoded_file.cache_clear()
    _uploads.clear()
    ENCODES.clear()


# --- blocks per provider -------------------------------------------------------------------------


def _file_ref(path: str, sha256: str, mime: str | None, **extras: Any) -> dict:
    """A local file by reference (standard ``url`` + ``mime_type``; ``extras`` say which part)."""
    mime = mime or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return {"url": Path(path).resolve().as_uri(), "mime_type": mime, "extras": {"sha256": sha256, **extras}}


def _keyframe_blocks(media: MediaRef, frame_side: int, provider: str | None) -> list[dict]:
    times = tuple(media["keyframe_times"])
    if provider in HF:
        mime = VIDEO_MIME.get(Path(media["video"]).suffix.lower())
        images = [{"type": "image", **_file_ref(media["video"], media["sha256"], mime, time=t, max_side=frame_side)} for t in times]
    else:
        images = [_image_block(b64) for b64 in encoded_frames(media["video"], media["sha256"], times, frame_side)]
    blocks = []
    for t, image in zip(times, images, strict=True):
        blocks += [{"type": "text", "text": keyframe_label(t)}, image]
    return blocks


def _image_block(b64: str) -> dict:
    """A standard image block; each LangChain integration translates it to its provider's format."""
    return {"type": "image", "base64": b64, "mime_type": "image/jpeg"}


def _audio_block(
    path: str, sha256: str, provider: str | None, max_seconds: float | None, info: dict | None = None
) -> tuple[dict, str, float, bool]:
    """(block, label note, seconds sent, whether it was cut to ``max_seconds``)."""
    if provider in HF:
        seconds = track_seconds(info)
        return {"type": "audio", **_file_ref(path, sha256, None, max_seconds=max_seconds)}, f"{seconds:.1f}s", seconds, False
    fmt = "flac" if provider in GEMINI else "wav"  # Gemini takes FLAC: half the bytes under its inline limit
    b64, seconds, trimmed = encoded_audio(path, sha256, fmt, max_seconds)
    note = f"{seconds:.1f}s" + (f", the first {max_seconds:g}s" if trimmed else "")
    return {"type": "audio", "base64": b64, "mime_type": f"audio/{fmt}"}, note, seconds, trimmed


def _video_block(media: MediaRef, provider: str | None) -> dict | None:
    """The whole video for a model that takes video: inline, or (Gemini) uploaded by reference."""
    suffix = Path(media["video"]).suffix.lower()
    mime = (GEMINI_VIDEO_MIME if provider in GEMINI else VIDEO_MIME).get(suffix)
    if provider in HF:  # decoded locally: any container, any size
        return {"type": "video", **_file_ref(media["video"], media["sha256"], mime, duration_s=media["info"]["duration_s"])}
    if mime is None:
        return None
    if media["info"]["size_bytes"] <= INLINE_VIDEO_LIMIT:
        b64 = encoded_file(media["video"], media["sha256"])
        if provider in OPENAI:  # OpenAI-compatible servers (vLLM…) take video as a data URL
            return {"type": "video_url", "video_url": {"url": f"data:{mime};base64,{b64}"}}
        return {"type": "video", "base64": b64, "mime_type": mime}
    if provider in GEMINI:
        return {"type": "video", "file_id": gemini_file_uri(media["video"], media["sha256"], mime), "mime_type": mime}
    return None


def media_blocks(
    media: MediaRef,
    modalities: frozenset[str],
    frame_side: int = 512,
    provider: str | None = None,
    *,
    audio_max_s: float | None = AUDIO_MAX_S,
) -> tuple[list[dict], Received]:
    """Blocks for a model that accepts ``modalities`` (from ``provider``); returns (blocks, what was sent).

    Never silently drops a modality: whatever media the model cannot take is covered by the
    measured digest, and the :class:`Received` record says what it actually received."""
    blocks: list[dict] = []
    rec = Received(modalities=["text"])
    has_video = media["has_video"] and bool(media["keyframe_times"])
    track = audio_track(media)
    video_sent_with_audio = False
    video = _video_block(media, provider) if has_video and "video" in modalities else None
    if video is not None:
        blocks.append(video)
        rec.modalities.append("video")
        # the track goes along inside the video, but a local model only hears it if it takes audio
        # OpenAI-compatible servers do not read a video's sound track by default: it goes as audio
        video_sent_with_audio = (
            media["has_audio"] and media["audio"] is None and provider not in OPENAI and (provider not in HF or "audio" in modalities)
        )
        if provider in HF:
            video["extras"]["audio"] = video_sent_with_audio  # whether to use the file's own track
        if video_sent_with_audio:
            rec.modalities.append("audio")
            rec.audio_in_video = True
            rec.audio_seconds = track_seconds(audio_facts(media))
    elif has_video and "image" in modalities:
        blocks += _keyframe_blocks(media, frame_side, provider)
        rec.modalities.append("image")
        rec.frames = len(media["keyframe_times"])
        rec.frame_times = list(media["keyframe_times"])
    if track and not video_sent_with_audio and "audio" in modalities:
        block, note, seconds, trimmed = _audio_block(*track, provider, audio_max_s, audio_facts(media))
        blocks.append({"type": "text", "text": audio_label(note)})
        blocks.append(block)
        rec.modalities.append("audio")
        rec.audio_seconds, rec.audio_truncated = seconds, trimmed
    candidates = media["audio_candidates"]
    if candidates and "audio" in modalities:
        for cand in candidates:
            block, note, _, _ = _audio_block(cand["path"], cand["sha256"], provider, audio_max_s, cand["info"])
            blocks.append({"type": "text", "text": audio_label(note, cand["label"])})
            blocks.append(block)
        rec.audio_options = len(candidates)
    missing_audio = (track and "audio" not in rec.modalities) or (candidates and "audio" not in modalities)
    visual_sent = "video" in rec.modalities or "image" in rec.modalities
    nothing_sent = rec.modalities == ["text"] and not rec.audio_options
    if nothing_sent or missing_audio or (has_video and not visual_sent):
        blocks.append({"type": "text", "text": facts_text(media["digest"])})
        rec.digest = True
        rec.modalities.append("digest")
    return blocks, rec
