"""Synthetic clips with known content (colours, cut times, tones, silences), written with PyAV.

Used to build the sample clip that ships with the package and by the tests, which assert the
digest's measurements against this ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Segment:
    """``seconds`` of a solid ``color`` (with a moving square if ``motion``) and a tone (None = silence)."""

    seconds: float
    color: tuple[int, int, int]
    tone_hz: float | None = None
    motion: bool = False
    beeps_per_s: float = 0.0


def make_clip(
    path: str | Path,
    segments: list[Segment],
    size: tuple[int, int] = (160, 120),
    fps: int = 25,
    video_codec: str = "libx264",
    audio_codec: str | None = "aac",
    sample_rate: int = 44_100,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Write the clip; ``audio_codec=None`` gives a silent (video-only) file."""
    path = Path(path)
    w, h = size
    with av.open(str(path), mode="w") as out:
        vs = out.add_stream(video_codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        aus = None
        if audio_codec:
            aus = out.add_stream(audio_codec, rate=sample_rate)
            aus.layout = "mono"
        n = 0
        for seg in segments:
            for k in range(round(seg.seconds * fps)):
                img = np.empty((h, w, 3), np.uint8)
                img[:] = seg.color
                if seg.motion:
                    x = int((k * 4) % max(1, w - 20))
                    img[h // 2 - 10 : h // 2 + 10, x : x + 20] = (255 - np.array(seg.color)).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = n
                n += 1
                for packet in vs.encode(frame):
                    out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if aus is not None:
            wave_ = np.concatenate([tone(seg, sample_rate) for seg in segments])
            _write_audio(out, aus, wave_, sample_rate)
    return path


def tone(seg: Segment, sample_rate: int) -> np.ndarray:
    t = np.arange(round(seg.seconds * sample_rate)) / sample_rate
    if seg.tone_hz is None:
        return np.zeros_like(t, dtype=np.float32)
    wave_ = 0.5 * np.sin(2 * np.pi * seg.tone_hz * t)
    if seg.beeps_per_s:
        wave_ *= (np.mod(t * seg.beeps_per_s, 1.0) < 0.3).astype(float)
    return wave_.astype(np.float32)


def _write_audio(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, wave_: np.ndarray, sample_rate: int) -> None:
    frame_size = stream.codec_context.frame_size or 1024
    fmt = stream.codec_context.format.name
    pts = 0
    for i in range(0, wave_.size, frame_size):
        chunk = wave_[i : i + frame_size]
        if chunk.size < frame_size and stream.codec_context.frame_size:
            chunk = np.pad(chunk, (0, frame_size - chunk.size))
        if fmt.endswith("p"):
            data = chunk.reshape(1, -1)
        else:
            data = chunk.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(_to_format(data, fmt), format=fmt, layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = pts
        frame.time_base = Fraction(1, sample_rate)
        pts += chunk.size
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def _to_format(data: np.ndarray, fmt: str) -> np.ndarray:
    base = fmt.rstrip("p")
    if base == "s16":
        return (data * 32767).astype(np.int16)
    if base == "s32":
        return (data * 2147483647).astype(np.int32)
    if base == "dbl":
        return data.astype(np.float64)
    return data.astype(np.float32)


def write_audio_file(path: str | Path, segments: list[Segment], codec: str = "pcm_s16le", sample_rate: int = 16_000) -> Path:
    """An audio-only file (wav by default) with the segments' tones."""
    path = Path(path)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=sample_rate)
        stream.layout = "mono"
        _write_audio(out, stream, np.concatenate([tone(s, sample_rate) for s in segments]), sample_rate)
    return path
