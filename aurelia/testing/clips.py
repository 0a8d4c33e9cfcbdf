"""Synthetic clips with known content (colours, cut times, tones, beeps, silences), written with PyAV.

Used to build the sample clip that ships with the package, by the tests (which assert the
digest's measurements against this ground truth, across containers and codecs) and by the
benchmark (textured 720p scenes with known cuts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Segment:
    """``seconds`` of a ``color`` and a tone (None = silence).

    ``motion`` adds a moving square; ``texture`` a fixed random pattern (seeded by the colour)
    that pans slowly, so encoders and decoders do realistic work; ``beeps_per_s`` gates the tone
    into 0.3-duty beeps (a known tempo); ``pan`` places the tone in a stereo file (-1 left only,
    0 centre, +1 right only; mono files get the mean of the two channels)."""

    seconds: float
    color: tuple[int, int, int]
    tone_hz: float | None = None
    motion: bool = False
    beeps_per_s: float = 0.0
    texture: bool = False
    pan: float = 0.0


def cut_times(segments: list[Segment]) -> list[float]:
    """Ground truth: the times (s) at which a new segment starts, first excluded."""
    return [float(t) for t in np.cumsum([s.seconds for s in segments])[:-1]]


def _texture(seg: Segment, w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(sum(c * 256**i for i, c in enumerate(seg.color)))
    coarse = rng.integers(-60, 60, size=(h // 16 + 2, w // 16 + 2, 1)).astype(np.int16)
    return np.repeat(np.repeat(coarse, 16, axis=0), 16, axis=1)  # (h+32, w+32, 1) blocks of 16 px


def frames_of(segments: list[Segment], w: int, h: int, fps: float) -> Iterator[np.ndarray]:
    """The RGB frames of the clip, in order."""
    for seg in segments:
        base = np.empty((h, w, 3), np.int16)
        base[:] = seg.color
        tex = _texture(seg, w, h) if seg.texture else None
        for k in range(round(seg.seconds * fps)):
            img = base
            if tex is not None:
                dx = (k * 2) % 16
                img = np.clip(base + tex[:h, dx : dx + w], 0, 255)
            img = img.astype(np.uint8)
            if seg.motion:
                x = int((k * 4) % max(1, w - 20))
                img[h // 2 - 10 : h // 2 + 10, x : x + 20] = (255 - np.array(seg.color)).astype(np.uint8)
            yield img


# PyAV 18 added VideoStream.set_display_rotation; before it no clip can be written with a display matrix
# (reading one works on every supported PyAV). Tests that need such a clip skip with this reason.
CAN_WRITE_ROTATION = hasattr(av.video.stream.VideoStream, "set_display_rotation")
NO_ROTATION_WRITE = "writing a clip with a display rotation needs PyAV >= 18 (VideoStream.set_display_rotation)"


def make_clip(
    path: str | Path,
    segments: list[Segment],
    size: tuple[int, int] = (160, 120),
    fps: int = 25,
    video_codec: str | None = "libx264",
    audio_codec: str | None = "aac",
    sample_rate: int = 44_100,
    pix_fmt: str = "yuv420p",
    *,
    rotation: int = 0,
    vfr: bool = False,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    channels: int = 1,
) -> Path:
    """Write the clip; ``audio_codec=None`` gives a silent (video-only) file.

    ``rotation`` stores a display matrix (counter-clockwise degrees, as phones do); ``vfr``
    writes alternating 1/fps and 2/fps frame durations (variable frame rate); ``options`` go to
    the video encoder (e.g. ``{"preset": "ultrafast", "g": "60"}``), ``container_options`` to the
    muxer (e.g. ``{"movflags": "faststart"}``)."""
    path = Path(path)
    w, h = size
    with av.open(str(path), mode="w", options=container_options or {}) as out:
        vs = None
        if video_codec:
            vs = out.add_stream(video_codec, rate=fps, options=options or {})
            vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
            if vfr:
                vs.time_base = Fraction(1, fps * 2)
            if rotation:
                if not CAN_WRITE_ROTATION:
                    raise ValueError(f"{NO_ROTATION_WRITE}; this is PyAV {av.__version__}")
                vs.set_display_rotation(rotation)
        aus = None
        if audio_codec:
            # FFmpeg's native vorbis encoder is experimental and stereo-only
            experimental = {"strict": "experimental"} if audio_codec in ("vorbis", "opus") else {}
            aus = out.add_stream(audio_codec, rate=sample_rate, options=experimental)
            aus.layout = "stereo" if channels == 2 or audio_codec == "vorbis" else "mono"
        if vs is not None:
            pts = 0
            for n, img in enumerate(frames_of(segments, w, h, fps)):
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                if vfr:
                    frame.pts, frame.time_base = pts, Fraction(1, fps * 2)
                    pts += 2 if n % 2 == 0 else 4  # 1/fps then 2/fps
                else:
                    frame.pts = n
                for packet in vs.encode(frame):
                    out.mux(packet)
            for packet in vs.encode(None):
                out.mux(packet)
        if aus is not None:
            wave_ = np.concatenate([panned(seg, sample_rate) for seg in segments], axis=1)
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


def panned(seg: Segment, sample_rate: int) -> np.ndarray:
    """The segment's tone as (left, right) rows: the far channel fades linearly with ``pan``."""
    gains = np.array([[min(1.0, 1.0 - seg.pan)], [min(1.0, 1.0 + seg.pan)]], np.float32)
    return gains * tone(seg, sample_rate)


def _write_audio(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, wave_: np.ndarray, sample_rate: int) -> None:
    """``wave_`` is (left, right); a mono stream gets their mean."""
    ctx = stream.codec_context
    frame_size = ctx.frame_size or 1024
    fmt = ctx.format.name
    layout = ctx.layout.name
    nch = ctx.channels
    pts = 0
    total = wave_.shape[1]
    for i in range(0, total, frame_size):
        chunk = wave_[:, i : i + frame_size]
        n = chunk.shape[1]
        if n < frame_size and ctx.frame_size:
            chunk = np.pad(chunk, ((0, 0), (0, frame_size - n)))
        data = chunk.mean(axis=0, keepdims=True) if nch == 1 else chunk[:nch]
        if not fmt.endswith("p"):
            data = data.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(_to_format(data, fmt), format=fmt, layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = pts
        frame.time_base = Fraction(1, sample_rate)
        pts += chunk.shape[1]
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


def write_audio_file(
    path: str | Path, segments: list[Segment], codec: str = "pcm_s16le", sample_rate: int = 16_000, channels: int = 1
) -> Path:
    """An audio-only file (wav by default; flac, mp3, ogg/vorbis, opus... by codec) with the segments' tones."""
    return make_clip(path, segments, video_codec=None, audio_codec=codec, sample_rate=sample_rate, channels=channels)
