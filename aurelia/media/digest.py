"""The measured digest: what a text-only model knows about the media, all computed from signal.

Nothing here is invented prose: durations, colours, brightness, motion, loudness, silences,
pitch, spectral centroid and onset rate are measured from decoded frames and audio.
"""

from __future__ import annotations

import colorsys

import numpy as np

from aurelia.media.audio import AudioAnalysis
from aurelia.media.keyframes import KeyframeScan, sample_is_cut
from aurelia.media.probe import MediaInfo

NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
MAX_LOUDNESS_POINTS = 16
MAX_CUTS_LISTED = 12
HUES = (
    (15, "red"),
    (40, "orange"),
    (70, "yellow"),
    (160, "green"),
    (200, "cyan"),
    (255, "blue"),
    (290, "purple"),
    (335, "pink"),
    (360, "red"),
)


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
    for limit, name in HUES:
        if hue < limit:
            return name
    return "red"


def note_name(hz: float) -> str:
    if hz <= 0:
        return "?"
    midi = round(69 + 12 * float(np.log2(hz / 440.0)))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def _brightness(rgb: tuple[float, float, float]) -> float:
    return round((0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255, 2)


def _fmt_t(t: float) -> str:
    return f"{t:.1f}s"


def _fmt_frame_t(t: float) -> str:
    """A frame-accurate time: two decimals unless it falls on a tenth."""
    return f"{t:.1f}s" if abs(t * 10 - round(t * 10)) < 1e-6 else f"{t:.2f}s"


def motion_energy(scan: KeyframeScan, start: float, end: float) -> float:
    """Mean absolute thumbnail difference (0-1) between consecutive samples in [start, end],
    leaving out scene cuts (a cut is not motion)."""
    diffs = [
        b.diff_to_prev
        for a, b in zip(scan.samples, scan.samples[1:], strict=False)
        if start <= a.time_s and b.time_s <= end + 1e-6 and not sample_is_cut(b)
    ]
    return round(float(np.mean(diffs)), 3) if diffs else 0.0


def _compress(values: list[float], points: int) -> tuple[list[float], int]:
    """Average consecutive windows so at most ``points`` values remain; returns (values, factor)."""
    factor = max(1, int(np.ceil(len(values) / points)))
    merged = [round(float(np.mean(values[i : i + factor])), 1) for i in range(0, len(values), factor)]
    return merged, factor


def _video_line(info: MediaInfo) -> str:
    v = info.video
    assert v is not None
    extras = []
    if v.rotation:
        extras.append(f"rotated {v.rotation} deg for display")
    if v.vfr:
        extras.append("variable frame rate")
    extra = f", {', '.join(extras)}" if extras else ""
    return f"Video: {info.duration_s:.1f}s, {v.width}x{v.height}, {v.fps:g} fps ({v.codec}, {info.container.split(',')[0]}{extra})."


def _audio_lines(audio: AudioAnalysis, label: str) -> list[str]:
    lines = [f"{label}: {audio.duration_s:.1f}s, average level {audio.rms_dbfs} dBFS, peak {audio.peak_dbfs} dBFS."]
    values, factor = _compress(audio.loudness_dbfs, MAX_LOUDNESS_POINTS)
    lines.append(f"Loudness every {audio.window_s * factor:g}s (dBFS): " + ", ".join(f"{v:g}" for v in values) + ".")
    lines.append("Silence: " + (", ".join(f"{_fmt_t(s)}-{_fmt_t(e)}" for s, e in audio.silences) if audio.silences else "none") + ".")
    if audio.pitch_segments:
        segs = [f"{_fmt_t(s)}-{_fmt_t(e)} ~{f:g} Hz ({note_name(f)})" for s, e, f in audio.pitch_segments[:8]]
        more = f" (+{len(audio.pitch_segments) - 8} more)" if len(audio.pitch_segments) > 8 else ""
        lines.append("Dominant pitch: " + "; ".join(segs) + more + ".")
    tempo = f", steady pulse ~{audio.tempo_bpm:g} BPM" if audio.tempo_bpm else ", no steady pulse"
    lines.append(f"Spectral centroid: {audio.centroid_hz:g} Hz. Onsets: {audio.onsets} ({audio.onset_rate_hz:g}/s){tempo}.")
    return lines


def render_digest(
    info: MediaInfo,
    scan: KeyframeScan | None,
    audio: AudioAnalysis | None,
    audio_source: str | None = None,
    candidates: list[tuple[str, AudioAnalysis]] | None = None,
) -> str:
    """Compact text with timestamps; ``candidates`` are labelled alternative audio clips (e.g. Dance-Music options)."""
    lines: list[str] = []
    lines.append(_video_line(info) if info.video else f"Audio file: {info.duration_s:.1f}s ({info.container.split(',')[0]}).")
    if scan is not None:
        if scan.truncated:
            lines.append(
                f"Warning: the video stream is truncated or damaged; only the decodable part (to {_fmt_t(scan.end_s)}) was measured."
            )
        cuts = [
            _fmt_frame_t(b.cut_at) if b.cut_at is not None else f"between {_fmt_t(a.time_s)} and {_fmt_t(b.time_s)}"
            for a, b in zip(scan.samples, scan.samples[1:], strict=False)
            if sample_is_cut(b)
        ]
        if cuts:
            more = f" (+{len(cuts) - MAX_CUTS_LISTED} more)" if len(cuts) > MAX_CUTS_LISTED else ""
            lines.append(f"Scene changes ({len(cuts)}): {', '.join(cuts[:MAX_CUTS_LISTED])}{more}.")
        else:
            lines.append("Scene changes: none detected.")
        lines.append("Keyframes (time: dominant colour, mean RGB, brightness 0-1, similarity to previous sample):")
        times = scan.times
        for i in scan.keyframe_indices:
            s = scan.samples[i]
            r, g, b = (round(c) for c in s.mean_rgb)
            cut = " [scene change]" if i > 0 and sample_is_cut(s) else ""
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
    if audio is None and not candidates:
        lines.append("Audio: none (no audio stream).")
    elif audio is not None:
        lines += _audio_lines(audio, f"Audio from {audio_source}" if audio_source else "Audio")
    for label, analysis in candidates or []:
        lines += _audio_lines(analysis, label)
    return "\n".join(lines)
