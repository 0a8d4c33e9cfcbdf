"""The measured digest: what a text-only model knows about the media, all computed from signal.

Nothing here is invented prose: durations, colours, brightness, motion, loudness, silences,
pitch, spectral centroid and onset rate are measured from decoded frames and audio.
"""

from __future__ import annotations

import colorsys

import numpy as np

from aurelia.media.audio import AudioAnalysis
from aurelia.media.keyframes import KeyframeScan, global_ssim, is_cut, mean_abs_diff
from aurelia.media.probe import MediaInfo

NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
MAX_LOUDNESS_POINTS = 16


def colour_name(rgb: tuple[float, float, float]) -> str:
    """A plain colour word for a mean RGB value (0-255)."""
    r, g, b = (c / 255 for c in rgb)
    h, light, s = colorsys.rgb_to_hls(r, g, b)
    if light < 0.12:
        return "black"
    if light > 0.9:
        return "white"
    if s < 0.18:
        return "gray"
    hue = h * 360
    for limit, name in (
        (15, "red"),
        (40, "orange"),
        (70, "yellow"),
        (160, "green"),
        (200, "cyan"),
        (255, "blue"),
        (290, "purple"),
        (335, "pink"),
        (360, "red"),
    ):
        if hue < limit:
            return name
    return "red"


def note_name(hz: float) -> str:
    if hz <= 0:
        return "?"
    midi = round(69 + 12 * np.log2(hz / 440.0))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def _brightness(rgb: tuple[float, float, float]) -> float:
    return round((0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255, 2)


def _fmt_t(t: float) -> str:
    return f"{t:.1f}s"


def motion_energy(scan: KeyframeScan, start: float, end: float) -> float:
    """Mean absolute thumbnail difference (0-1) between consecutive samples in [start, end],
    leaving out scene cuts (a cut is not motion)."""
    diffs = [
        mean_abs_diff(a.thumb, b.thumb)
        for a, b in zip(scan.samples, scan.samples[1:], strict=False)
        if start <= a.time_s and b.time_s <= end + 1e-6 and not is_cut(global_ssim(a.thumb, b.thumb), mean_abs_diff(a.thumb, b.thumb))
    ]
    return round(float(np.mean(diffs)), 3) if diffs else 0.0


def _compress(values: list[float], points: int) -> tuple[list[float], int]:
    """Average consecutive windows so at most ``points`` values remain; returns (values, factor)."""
    factor = max(1, int(np.ceil(len(values) / points)))
    merged = [round(float(np.mean(values[i : i + factor])), 1) for i in range(0, len(values), factor)]
    return merged, factor


def render_digest(info: MediaInfo, scan: KeyframeScan | None, audio: AudioAnalysis | None, audio_source: str | None = None) -> str:
    lines: list[str] = []
    if info.video:
        v = info.video
        lines.append(f"Video: {info.duration_s:.1f}s, {v.width}x{v.height}, {v.fps:g} fps ({v.codec}, {info.container}).")
    else:
        lines.append(f"Audio file: {info.duration_s:.1f}s ({info.container}).")
    if scan is not None:
        if scan.truncated:
            lines.append("Warning: the video stream is truncated; only the decodable part was measured.")
        lines.append("Keyframes (time: dominant colour, mean RGB, brightness 0-1, similarity to previous sample):")
        times = scan.times
        for _k, i in enumerate(scan.keyframe_indices):
            s = scan.samples[i]
            r, g, b = (round(c) for c in s.mean_rgb)
            change = mean_abs_diff(scan.samples[i - 1].thumb, s.thumb) if i > 0 else 0.0
            cut = " [scene change]" if i > 0 and is_cut(scan.ssim_to_prev[i], change) else ""
            lines.append(
                f"- {_fmt_t(s.time_s)}: {colour_name(s.mean_rgb)} (R{r} G{g} B{b}), brightness {_brightness(s.mean_rgb)}, "
                f"similarity {scan.ssim_to_prev[i]:.2f}{cut}"
            )
        end = scan.samples[-1].time_s
        bounds = [*times, end]
        motion = [
            f"{_fmt_t(bounds[k])}-{_fmt_t(bounds[k + 1])}: {motion_energy(scan, bounds[k], bounds[k + 1])}"
            for k in range(len(times))
            if bounds[k + 1] > bounds[k]
        ]
        if motion:
            lines.append("Motion energy (mean frame difference 0-1): " + "; ".join(motion) + ".")
    if audio is None:
        lines.append("Audio: none (no audio stream).")
    else:
        src = f" from {audio_source}" if audio_source else ""
        lines.append(f"Audio{src}: {audio.duration_s:.1f}s, average level {audio.rms_dbfs} dBFS, peak {audio.peak_dbfs} dBFS.")
        values, factor = _compress(audio.loudness_dbfs, MAX_LOUDNESS_POINTS)
        lines.append(f"Loudness every {audio.window_s * factor:g}s (dBFS): " + ", ".join(f"{v:g}" for v in values) + ".")
        if audio.silences:
            lines.append("Silence: " + ", ".join(f"{_fmt_t(s)}-{_fmt_t(e)}" for s, e in audio.silences) + ".")
        else:
            lines.append("Silence: none.")
        if audio.pitch_segments:
            segs = [f"{_fmt_t(s)}-{_fmt_t(e)} ~{f:g} Hz ({note_name(f)})" for s, e, f in audio.pitch_segments[:8]]
            more = f" (+{len(audio.pitch_segments) - 8} more)" if len(audio.pitch_segments) > 8 else ""
            lines.append("Dominant pitch: " + "; ".join(segs) + more + ".")
        lines.append(
            f"Spectral centroid: {audio.centroid_hz:g} Hz. Onset rate: {audio.onset_rate_hz:g}/s"
            + (f", tempo ~{audio.tempo_bpm:g} BPM." if audio.tempo_bpm else ".")
        )
    return "\n".join(lines)
