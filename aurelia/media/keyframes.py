"""Keyframe selection on small grayscale thumbnails, and extraction of the chosen frames.

Selection follows the paper authors' idea (keep frames whose similarity to the previous one
drops below 0.6) but works on 64-pixel-wide thumbnails sampled at a few frames per second,
and always keeps temporal coverage: the first frame, the strongest scene changes, then the
largest gaps are filled until ``max_frames`` are chosen. Deterministic for a file + settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import av
import numpy as np

from aurelia.errors import MediaError
from aurelia.media.probe import open_container

THUMB_WIDTH = 64
SCENE_SSIM = 0.6
MIN_CUT_DIFF = 0.03  # mean absolute thumbnail change (0-1) below which a low SSIM is local motion


@dataclass(frozen=True)
class FrameSample:
    """One sampled frame: its time, an RGB thumbnail (float32) and its mean colour (0-255)."""

    time_s: float
    thumb: np.ndarray
    mean_rgb: tuple[float, float, float]


@dataclass(frozen=True)
class KeyframeScan:
    samples: list[FrameSample]
    ssim_to_prev: list[float]  # same length as samples; 1.0 for the first
    keyframe_indices: list[int]
    truncated: bool

    @property
    def times(self) -> list[float]:
        return [self.samples[i].time_s for i in self.keyframe_indices]


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


def scan_frames(path: str | os.PathLike, sample_fps: float = 2.0, max_samples: int = 600) -> tuple[list[FrameSample], bool]:
    """Decode the video once, keeping a tiny thumbnail for frames ``1/sample_fps`` s apart."""
    samples: list[FrameSample] = []
    truncated = False
    with open_container(path) as container:
        if not container.streams.video:
            raise MediaError("no video stream", path=str(path))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = container.duration / av.time_base if container.duration else 0.0
        step = max(1.0 / sample_fps, duration / max_samples if duration else 0.0)
        next_t = 0.0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else 0.0
                if t + 1e-6 < next_t:
                    continue
                height = max(1, round(frame.height * THUMB_WIDTH / max(frame.width, 1)))
                small = frame.reformat(width=THUMB_WIDTH, height=height, format="rgb24").to_ndarray()
                mean = small.reshape(-1, 3).mean(axis=0)
                samples.append(FrameSample(t, small, (float(mean[0]), float(mean[1]), float(mean[2]))))
                next_t = (int(t / step + 1e-6) + 1) * step
        except av.error.FFmpegError:
            truncated = True
    if not samples:
        raise MediaError("video stream has no decodable frames", path=str(path))
    return samples, truncated


def is_cut(ssim: float, change: float, threshold: float = SCENE_SSIM) -> bool:
    """A scene change: structure differs (SSIM below threshold) and enough of the frame changed."""
    return ssim < threshold and change >= MIN_CUT_DIFF


def choose_keyframes(samples: list[FrameSample], max_frames: int, threshold: float = SCENE_SSIM) -> tuple[list[float], list[int]]:
    """Pick up to ``max_frames`` sample indices: first frame, scene changes, then coverage."""
    ssim = [1.0] + [global_ssim(samples[i - 1].thumb, samples[i].thumb) for i in range(1, len(samples))]
    change = [0.0] + [mean_abs_diff(samples[i - 1].thumb, samples[i].thumb) for i in range(1, len(samples))]
    chosen = {0}
    cuts = sorted((i for i in range(1, len(samples)) if is_cut(ssim[i], change[i], threshold)), key=lambda i: (-change[i], i))
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


def scan_keyframes(path: str | os.PathLike, max_frames: int = 5, sample_fps: float = 2.0) -> KeyframeScan:
    samples, truncated = scan_frames(path, sample_fps=sample_fps)
    ssim, indices = choose_keyframes(samples, max_frames)
    return KeyframeScan(samples=samples, ssim_to_prev=ssim, keyframe_indices=indices, truncated=truncated)


def extract_frames(path: str | os.PathLike, times: list[float], max_side: int = 512) -> list[np.ndarray]:
    """Decode the frames at ``times`` (seconds) as RGB arrays no larger than ``max_side``."""
    out: list[np.ndarray] = []
    with open_container(path) as container:
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
            scale = min(1.0, max_side / max(picked.width, picked.height))
            w = max(2, int(picked.width * scale) // 2 * 2)
            h = max(2, int(picked.height * scale) // 2 * 2)
            out.append(picked.reformat(width=w, height=h, format="rgb24").to_ndarray())
    return out
