"""Keyframe selection on small thumbnails, and extraction of the chosen frames.

Selection follows the paper authors' idea (keep frames whose SSIM to the previous one drops
below 0.6, up to 5) but measures it on 64-pixel-wide thumbnails sampled at a few frames per
second instead of every full-resolution frame, and always keeps temporal coverage: the first
frame, the strongest scene changes, then the widest gaps are filled until ``max_frames`` are
chosen. Deterministic for a given file and settings.

Decoding does only the work needed:
- ``mode="auto"`` decodes in order (threaded; for H.264/HEVC without the deblocking filter and
  without non-reference frames) and, when the next sample lies more than a keyframe interval
  ahead (long inputs sampled sparsely), seeks instead of decoding the gap; every decoded frame
  leaves a cheap signature, so a cut between two samples is placed on the frame where it happens;
- ``mode="fast"`` hands the decoder only the stream's own keyframe packets (no full decode),
  topped up with a few seeks when keyframes are too sparse to cover the clip.
Only per-sample scalars (time, mean colour, similarity and change to the previous sample) are
kept, so memory does not grow with frame size and barely with length.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import av
import numpy as np

from aurelia.errors import MediaError
from aurelia.media.probe import MAX_DURATION_S, open_container, seconds_of, snap_rotation

THUMB_WIDTH = 64
SCENE_SSIM = 0.6
MIN_CUT_DIFF = 0.03  # mean absolute thumbnail change (0-1) below which a low SSIM is local motion
MIN_CUT_HIST = 0.25  # colour-histogram distance (0-1) below which a low SSIM is motion, not a new shot
STRONG_CUT_HIST = 0.5
HIST_BINS = 16
MAX_SAMPLES = 600
DEFAULT_KEYFRAME_INTERVAL_S = 4.0  # assumed when the container has no index to tell
ScanMode = Literal["auto", "fast"]


@dataclass(frozen=True)
class FrameSample:
    """One sampled frame: its time, mean colour (0-255), and how it differs from the previous sample.

    ``thumb`` (RGB uint8, display orientation) is kept only when asked (``keep_thumbs``)."""

    time_s: float
    mean_rgb: tuple[float, float, float]
    ssim_to_prev: float = 1.0
    diff_to_prev: float = 0.0
    hist_to_prev: float = 0.0
    cut_at: float | None = None  # after a cut: the first decoded frame of the new shot, when no seek skipped frames in between
    thumb: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class KeyframeScan:
    samples: list[FrameSample]
    ssim_to_prev: list[float]  # same length as samples; 1.0 for the first
    keyframe_indices: list[int]
    truncated: bool
    mode: str = "auto"
    decoded_frames: int = 0  # frames the decoder produced (the work done)
    seeks: int = 0
    end_s: float = 0.0  # time of the last decodable frame
    stated_duration_s: float = 0.0

    @property
    def times(self) -> list[float]:
        return [self.samples[i].time_s for i in self.keyframe_indices]

    @property
    def cut_times(self) -> list[float]:
        """Each scene change: the first frame of the new shot when every frame was decoded (frame-accurate),
        else the midpoint of its sample interval (error at most half a sample step)."""
        return [round(b.cut_at if b.cut_at is not None else (a.time_s + b.time_s) / 2, 3) for a, b in self._cut_pairs()]

    def _cut_pairs(self) -> list[tuple[FrameSample, FrameSample]]:
        return [(a, b) for a, b in zip(self.samples, self.samples[1:], strict=False) if sample_is_cut(b)]


def global_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two equally-sized images in [0, 255] over the whole image, averaged per channel.

    Per channel (as the paper authors do) so that a cut between colours of equal luminance
    still registers."""
    a = a.astype(np.float64).reshape(-1, a.shape[-1] if a.ndim == 3 else 1)
    b = b.astype(np.float64).reshape(-1, b.shape[-1] if b.ndim == 3 else 1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    var_a, var_b = a.var(axis=0), b.var(axis=0)
    cov = ((a - mu_a) * (b - mu_b)).mean(axis=0)
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim.mean())


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, 0-1."""
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255)


def hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance between per-channel colour histograms, averaged over channels (0-1).

    Panning or moving texture keeps the histogram; a new shot changes it."""
    bins = np.arange(HIST_BINS + 1) * (256 // HIST_BINS)
    dist = 0.0
    channels = a.shape[-1] if a.ndim == 3 else 1
    for c in range(channels):
        ha = np.histogram(a[..., c] if a.ndim == 3 else a, bins=bins)[0] / max(a.size // channels, 1)
        hb = np.histogram(b[..., c] if b.ndim == 3 else b, bins=bins)[0] / max(b.size // channels, 1)
        dist += 0.5 * float(np.abs(ha - hb).sum())
    return dist / channels


def is_cut(ssim: float, change: float, threshold: float = SCENE_SSIM, hist: float | None = None) -> bool:
    """A scene change: structure differs (SSIM below threshold) and enough of the frame changed, and
    (when known) the colour distribution changed too, so camera or texture motion is not a cut.

    A wholesale colour change (histogram distance >= 0.5) is a cut even when SSIM, which on flat
    frames only compares mean levels, stays above the threshold."""
    if change < MIN_CUT_DIFF:
        return False
    if hist is None:
        return ssim < threshold
    return hist >= MIN_CUT_HIST and (ssim < threshold or hist >= STRONG_CUT_HIST)


def sample_is_cut(s: FrameSample, threshold: float = SCENE_SSIM) -> bool:
    return is_cut(s.ssim_to_prev, s.diff_to_prev, threshold, s.hist_to_prev)


def thumbnail(frame: av.VideoFrame, width: int = THUMB_WIDTH, rotation: int = 0) -> np.ndarray:
    """A small RGB thumbnail in display orientation (FFmpeg scales; numpy rotates)."""
    height = max(1, round(frame.height * width / max(frame.width, 1)))
    small = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
    return np.rot90(small, k=rotation // 90) if rotation else small


def _keyframe_interval(stream, duration: float) -> float:
    """Seconds between keyframes, from the container's index when it lists them."""
    try:
        entries = stream.index_entries
        keys = sum(1 for e in entries if e.is_keyframe) if len(entries) > 1 else 0
    except (AttributeError, av.error.FFmpegError):
        keys = 0
    return duration / keys if keys >= 2 and duration > 0 else DEFAULT_KEYFRAME_INTERVAL_S


LIGHT_DECODE_CODECS = {"h264", "hevc"}


def _light_decoding(stream) -> None:
    """For 64-pixel thumbnails, H.264/HEVC need neither the in-loop deblocking filter nor the
    frames no other frame references (most B-frames): skipping both roughly halves decode time.
    Samples and cut times then come from reference frames only (cuts within a frame or two)."""
    ctx = stream.codec_context
    if ctx is not None and ctx.name in LIGHT_DECODE_CODECS:
        ctx.options = {**ctx.options, "skip_loop_filter": "all"}
        ctx.skip_frame = "NONREF"


class _Sampler:
    """Turns decoded frames into samples at most one per ``step`` seconds."""

    def __init__(self, step: float, keep_thumbs: bool) -> None:
        self.step, self.keep_thumbs = step, keep_thumbs
        self.rotation: int | None = None  # from the first frame's display matrix
        self.samples: list[FrameSample] = []
        self.prev: np.ndarray | None = None
        self.next_t = float("-inf")
        self.decoded = 0
        self.last_t = -1.0
        self.prev_sig: np.ndarray | None = None
        self.jump: tuple[float, float] | None = None  # (largest frame-to-frame change since the last sample, its time)
        self.contiguous = False  # every frame since the last sample was observed

    def observe(self, frame: av.VideoFrame, t: float) -> None:
        """Every decoded frame passes here: a cheap signature (strided pixels of the YUV planes, no
        scaling) tracks where, between two samples, the picture changed most."""
        sig = _signature(frame)
        if sig is not None and self.prev_sig is not None and sig.shape == self.prev_sig.shape:
            change = float(np.abs(sig - self.prev_sig).mean())
            if self.jump is None or change > self.jump[0]:
                self.jump = (change, t)
        self.prev_sig = sig

    def seeked(self) -> None:
        self.contiguous, self.prev_sig, self.jump = False, None, None

    def wants(self, t: float) -> bool:
        return t + 1e-6 >= self.next_t and t > self.last_t + 1e-6

    def add(self, frame: av.VideoFrame, t: float) -> None:
        if self.rotation is None:
            self.rotation = snap_rotation(frame.rotation)
        thumb = thumbnail(frame, rotation=self.rotation)
        mean = thumb.reshape(-1, 3).mean(axis=0)
        ssim, diff, hist = 1.0, 0.0, 0.0
        if self.prev is not None and self.prev.shape == thumb.shape:
            ssim, diff, hist = global_ssim(self.prev, thumb), mean_abs_diff(self.prev, thumb), hist_distance(self.prev, thumb)
        cut_at = None
        if self.samples and self.contiguous and self.jump is not None and is_cut(ssim, diff, SCENE_SSIM, hist):
            cut_at = self.jump[1]
        self.samples.append(
            FrameSample(t, (float(mean[0]), float(mean[1]), float(mean[2])), ssim, diff, hist, cut_at, thumb if self.keep_thumbs else None)
        )
        self.prev, self.last_t = thumb, t
        self.jump, self.contiguous = None, True
        self.next_t = (int(t / self.step + 1e-6) + 1) * self.step


_SIGNATURE_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray", "nv12"}


def _signature(frame: av.VideoFrame) -> np.ndarray | None:
    """About 32x18 strided samples of each 8-bit plane (zero-copy view, then a tiny copy)."""
    if frame.format.name not in _SIGNATURE_FORMATS:
        return None
    parts = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        h, w = rows.shape[0], plane.width
        parts.append(rows[:: max(1, h // 18), : w : max(1, w // 32)].astype(np.float32).ravel())
    return np.concatenate(parts)


def _frames(packets: Iterator[av.Packet], stream) -> Iterator[tuple[av.VideoFrame, float | None]]:
    """Decoded frames with their time in seconds (from pts and the stream's time base, because
    frames that come out of a decoder flush carry no time base of their own)."""
    for packet in packets:
        for frame in stream.decode(packet):
            yield frame, (float(frame.pts * stream.time_base) if frame.pts is not None else None)


def scan(
    path: str | os.PathLike,
    sample_fps: float = 2.0,
    max_samples: int = MAX_SAMPLES,
    *,
    mode: ScanMode = "auto",
    keep_thumbs: bool = False,
    min_samples: int = 5,
) -> KeyframeScan:
    """Decode what is needed for one thumbnail every ``1/sample_fps`` s (at most ``max_samples``).

    A decode error or a stream that stops well before its stated duration marks the scan
    ``truncated``; what decoded before is kept."""
    spath = str(path)
    if mode not in ("auto", "fast"):
        raise ValueError(f"mode must be 'auto' or 'fast', got {mode!r}")
    with open_container(path) as container:
        if not container.streams.video:
            raise MediaError("no video stream", path=spath)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        _light_decoding(stream)
        duration = seconds_of(stream.duration, stream.time_base) or (container.duration / av.time_base if container.duration else 0.0)
        duration = min(duration, MAX_DURATION_S)
        step = max(1.0 / sample_fps, duration / max_samples if duration else 0.0)
        sampler = _Sampler(step, keep_thumbs or mode == "fast")  # fast mode re-links samples, which needs thumbnails
        kf_interval = _keyframe_interval(stream, duration)
        truncated = False
        seeks = 0
        try:
            if mode == "fast":
                truncated, seeks = _scan_keyframes_only(container, stream, sampler, duration, min_samples, kf_interval)
            else:
                truncated, seeks = _scan_in_order(container, stream, sampler, kf_interval)
        except av.error.FFmpegError:
            truncated = True
    samples = sorted(sampler.samples, key=lambda s: s.time_s)
    if not samples:
        raise MediaError("video stream has no decodable frames (corrupt or truncated)", path=spath)
    if mode == "fast":
        samples = _relink(samples)
        if not keep_thumbs:
            samples = [FrameSample(s.time_s, s.mean_rgb, s.ssim_to_prev, s.diff_to_prev, s.hist_to_prev, s.cut_at) for s in samples]
    end = samples[-1].time_s
    if mode != "fast" and duration and end < duration - max(1.0, 2 * step):
        truncated = True
    ssim, indices = choose_keyframes(samples, min_samples)
    return KeyframeScan(samples, ssim, indices, truncated, mode, sampler.decoded, seeks, end, round(duration, 3))


def _scan_in_order(container, stream, sampler: _Sampler, kf_interval: float) -> tuple[bool, int]:
    """Decode in order; jump ahead with a seek when the next sample is over a keyframe interval away."""
    seeks = 0
    can_seek = True
    while True:
        jumped = False
        for frame, t in _frames(container.demux(stream), stream):
            sampler.decoded += 1
            if t is None:
                continue
            sampler.observe(frame, t)
            if sampler.wants(t):
                sampler.add(frame, t)
                if can_seek and sampler.next_t - t > 1.5 * kf_interval:
                    try:
                        container.seek(int(sampler.next_t / stream.time_base), stream=stream, backward=True)
                        seeks += 1
                        sampler.seeked()
                        jumped = True
                        break
                    except av.error.FFmpegError:
                        can_seek = False
        if not jumped:
            return False, seeks


def _scan_keyframes_only(container, stream, sampler: _Sampler, duration: float, min_samples: int, kf_interval: float) -> tuple[bool, int]:
    """Fast mode: decode only keyframe packets (one per sample step), then top up coverage with seeks."""
    stream.codec_context.skip_frame = "NONKEY"
    wanted = (
        p
        for p in container.demux(stream)
        if p.size == 0 or (p.is_keyframe and p.pts is not None and sampler.wants(float(p.pts * stream.time_base)))
    )
    for frame, t in _frames(wanted, stream):
        sampler.decoded += 1
        if t is not None and sampler.wants(t):
            sampler.add(frame, t)
    seeks = 0
    if duration and len(sampler.samples) < min_samples:
        # too few keyframes to cover the clip: sample evenly, seeking over gaps wider than a keyframe interval
        stream.codec_context.skip_frame = "DEFAULT"
        _light_decoding(stream)
        container.seek(0)
        extra = _Sampler(duration / min_samples, keep_thumbs=True)
        _, seeks = _scan_in_order(container, stream, extra, kf_interval)
        sampler.decoded += extra.decoded
        sampler.samples.extend(extra.samples)
    return False, seeks


def _relink(samples: list[FrameSample]) -> list[FrameSample]:
    """Recompute similarity to the previous sample after fast mode merged samples out of order."""
    out: list[FrameSample] = []
    for s in samples:
        if not out or s.time_s - out[-1].time_s > 0.25:  # the top-up may land on a keyframe already kept
            out.append(s)
    if all(s.thumb is not None for s in out):
        out = [
            FrameSample(
                s.time_s,
                s.mean_rgb,
                global_ssim(p.thumb, s.thumb),
                mean_abs_diff(p.thumb, s.thumb),
                hist_distance(p.thumb, s.thumb),
                thumb=s.thumb,
            )
            if p is not None
            else s
            for p, s in zip([None, *out[:-1]], out, strict=True)
        ]
    return out


def choose_keyframes(samples: list[FrameSample], max_frames: int, threshold: float = SCENE_SSIM) -> tuple[list[float], list[int]]:
    """Pick up to ``max_frames`` sample indices: first frame, strongest scene changes, then coverage.

    Returns (SSIM to the previous sample for every sample, chosen indices in time order)."""
    ssim = [1.0] + [s.ssim_to_prev for s in samples[1:]]
    change = [0.0] + [s.diff_to_prev for s in samples[1:]]
    chosen = {0}
    cuts = sorted((i for i in range(1, len(samples)) if sample_is_cut(samples[i], threshold)), key=lambda i: (-change[i], i))
    for i in cuts:
        if len(chosen) >= max_frames:
            break
        chosen.add(i)
    # fill the widest temporal gaps (including the tail) until the budget is used
    times = [s.time_s for s in samples]
    end = times[-1]
    while len(chosen) < min(max_frames, len(samples)):
        marks = sorted(chosen)
        bounds = [*(times[i] for i in marks), end]
        gaps = [(bounds[k + 1] - bounds[k], k) for k in range(len(marks))]
        width, k = max(gaps)
        target = bounds[k] + width / 2
        candidates = [i for i in range(len(samples)) if i not in chosen]
        best = min(candidates, key=lambda i: (abs(times[i] - target), i))
        chosen.add(best)
    return ssim, sorted(chosen)


def scan_keyframes(path: str | os.PathLike, max_frames: int = 5, sample_fps: float = 2.0, *, mode: ScanMode = "auto") -> KeyframeScan:
    """Sample the video and choose up to ``max_frames`` keyframes."""
    result = scan(path, sample_fps=sample_fps, mode=mode, min_samples=max(5, max_frames))
    ssim, indices = choose_keyframes(result.samples, max_frames)
    return KeyframeScan(
        result.samples,
        ssim,
        indices,
        result.truncated,
        result.mode,
        result.decoded_frames,
        result.seeks,
        result.end_s,
        result.stated_duration_s,
    )


def extract_frames(path: str | os.PathLike, times: list[float], max_side: int = 512) -> list[np.ndarray]:
    """Decode the frames at ``times`` (seconds) as RGB arrays, in display orientation, no larger than ``max_side``."""
    out: list[np.ndarray] = []
    with open_container(path) as container:
        if not container.streams.video:
            raise MediaError("no video stream", path=str(path))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for target in times:
            container.seek(int(max(target - 0.001, 0) / stream.time_base), stream=stream, backward=True)
            picked = None
            try:
                for frame in container.decode(stream):
                    picked = frame
                    if frame.time is not None and frame.time + 1e-3 >= target:
                        break
            except av.error.FFmpegError:
                pass
            if picked is None:
                raise MediaError(f"could not decode a frame at {target:.2f}s", path=str(path))
            rotation = snap_rotation(picked.rotation)
            scale = min(1.0, max_side / max(picked.width, picked.height))
            w = max(2, int(picked.width * scale) // 2 * 2)
            h = max(2, int(picked.height * scale) // 2 * 2)
            rgb = picked.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
            out.append(np.ascontiguousarray(np.rot90(rgb, k=rotation // 90)) if rotation else rgb)
    return out
