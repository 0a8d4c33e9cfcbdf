"""Content blocks for a model, from the media reference and what the model can take.

Blocks use LangChain's standard multimodal format (``{"type": "image", "base64": ...}``),
which each provider integration translates. Encodings are cached per process by content
hash and settings, so one clip is encoded once however many agents and iterations use it.
"""

from __future__ import annotations

import base64
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from aurelia.media.audio import load_audio, wav_bytes
from aurelia.media.keyframes import extract_frames

INLINE_VIDEO_LIMIT = 20 * 1024 * 1024
VIDEO_MIME = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".mkv": "video/x-matroska", ".avi": "video/x-msvideo"}


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
    return tuple(base64.b64encode(jpeg_bytes(f)).decode() for f in extract_frames(path, list(times), max_side=max_side))


@lru_cache(maxsize=16)
def encoded_wav(path: str, sha256: str) -> tuple[str, float]:
    wave_, _ = load_audio(path)
    return base64.b64encode(wav_bytes(wave_)).decode(), wave_.size / 16_000


@lru_cache(maxsize=4)
def encoded_file(path: str, sha256: str) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def media_blocks(media: dict, modalities: frozenset[str], frame_side: int = 512) -> tuple[list[dict], list[str]]:
    """Blocks for a model that accepts ``modalities``; returns (blocks, what was sent)."""
    blocks: list[dict] = []
    sent: list[str] = []
    audio_path = media["audio"] or (media["video"] if media["has_audio"] else None)
    audio_sha = media["audio_sha256"] or media["sha256"]
    video_sent_with_audio = False
    suffix = Path(media["video"]).suffix.lower()
    if "video" in modalities and media["info"]["size_bytes"] <= INLINE_VIDEO_LIMIT and suffix in VIDEO_MIME:
        blocks.append({"type": "video", "base64": encoded_file(media["video"], media["sha256"]), "mime_type": VIDEO_MIME[suffix]})
        sent.append("video")
        video_sent_with_audio = media["has_audio"] and media["audio"] is None
        if video_sent_with_audio:
            sent.append("audio")
    elif "image" in modalities:
        times = tuple(media["keyframe_times"])
        for t, b64 in zip(times, encoded_frames(media["video"], media["sha256"], times, frame_side), strict=True):
            blocks.append({"type": "text", "text": f"Keyframe at {t:.1f}s:"})
            blocks.append({"type": "image", "base64": b64, "mime_type": "image/jpeg"})
        sent.append(f"frames:{len(times)}")
    if audio_path and not video_sent_with_audio and "audio" in modalities:
        b64, seconds = encoded_wav(audio_path, audio_sha)
        blocks.append({"type": "text", "text": f"Audio track ({seconds:.1f}s):"})
        blocks.append({"type": "audio", "base64": b64, "mime_type": "audio/wav"})
        sent.append("audio")
    needs_digest = not sent or (audio_path and "audio" not in sent)
    if needs_digest:
        blocks.append({"type": "text", "text": "Measured facts about the media:\n" + media["digest"]})
        sent.append("digest")
    return blocks, sent
