"""Audio decoding (PyAV resampler to 16 kHz mono float32) and measurements with numpy."""

from __future__ import annotations

import io
import os
import wave
from dataclasses import dataclass, field

import av
import numpy as np

from aurelia.errors import MediaError
from aurelia.media.probe import open_container

SAMPLE_RATE = 16_000
WINDOW_S = 0.5
SILENCE_DBFS = -45.0
MIN_SILENCE_S = 0.5
MAX_PITCH_GAP_S = 0.5  # a repeated note (beeps) with short gaps counts as one segment


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> tuple[np.ndarray, bool]:
    """Decode the first audio stream to mono float32 at ``sample_rate``; returns (wave, truncated)."""
    chunks: list[np.ndarray] = []
    truncated = False
    limit = int(max_seconds * sample_rate) if max_seconds else None
    total = 0
    with open_container(path) as container:
        if not container.streams.audio:
            raise MediaError("no audio stream", path=str(path))
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    chunks.append(arr)
                    total += arr.size
                if limit is not None and total >= limit:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError:
            truncated = True
    wave_ = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if limit is not None:
        wave_ = wave_[:limit]
    return wave_, truncated


def wav_bytes(wave_: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV encoding, for providers that take audio."""
    pcm = (np.clip(wave_, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


@dataclass
class AudioAnalysis:
    """Measured facts about a waveform; every number comes from the signal."""

    duration_s: float
    rms_dbfs: float
    peak_dbfs: float
    window_s: float
    loudness_dbfs: list[float] = field(default_factory=list)  # one value per window
    silences: list[tuple[float, float]] = field(default_factory=list)
    centroid_hz: float = 0.0
    pitch_segments: list[tuple[float, float, float]] = field(default_factory=list)  # start, end, Hz
    onset_rate_hz: float = 0.0
    tempo_bpm: float | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _db(x: np.ndarray | float) -> np.ndarray | float:
    return 20 * np.log10(np.maximum(x, 1e-9))


def analyse(wave_: np.ndarray, sample_rate: int = SAMPLE_RATE, window_s: float = WINDOW_S) -> AudioAnalysis:
    n = wave_.size
    duration = n / sample_rate
    if n == 0:
        return AudioAnalysis(duration_s=0.0, rms_dbfs=-180.0, peak_dbfs=-180.0, window_s=window_s)
    win = max(1, int(window_s * sample_rate))
    frames = [wave_[i : i + win] for i in range(0, n, win)]
    rms = np.array([np.sqrt(np.mean(f.astype(np.float64) ** 2)) for f in frames])
    loud = [round(float(v), 1) for v in _db(rms)]

    silences: list[tuple[float, float]] = []
    start = None
    for i, level in enumerate([*loud, 0.0]):
        if level < SILENCE_DBFS and start is None:
            start = i
        elif level >= SILENCE_DBFS and start is not None:
            s, e = start * window_s, min(i * window_s, duration)
            if e - s >= MIN_SILENCE_S:
                silences.append((round(s, 2), round(e, 2)))
            start = None

    # short-time spectra (2048-sample frames, hop 1024)
    size, hop = 2048, 1024
    padded = np.pad(wave_, (0, max(0, size - n)))
    idx = np.arange(0, max(1, padded.size - size + 1), hop)
    spec = np.abs(np.fft.rfft(np.stack([padded[i : i + size] * np.hanning(size) for i in idx]), axis=1))
    freqs = np.fft.rfftfreq(size, 1 / sample_rate)
    energy = spec.sum(axis=1)
    voiced = energy > energy.max() * 1e-3 if energy.size else energy
    centroid = float((spec[voiced] @ freqs).sum() / max(spec[voiced].sum(), 1e-9)) if voiced.any() else 0.0

    # dominant pitch per window (strongest bin 50-4000 Hz), merged into segments
    band = (freqs >= 50) & (freqs <= 4000)
    hop_s = hop / sample_rate
    per_frame = []
    for k, row in enumerate(spec):
        frame_db = _db(np.sqrt(np.mean(padded[idx[k] : idx[k] + size] ** 2)))
        per_frame.append(float(freqs[band][np.argmax(row[band])]) if frame_db > SILENCE_DBFS else 0.0)
    segments: list[tuple[float, float, float]] = []
    for k, hz in enumerate(per_frame):
        t = k * hop_s
        if segments and hz and abs(segments[-1][2] - hz) <= max(15.0, 0.03 * hz) and t - segments[-1][1] <= MAX_PITCH_GAP_S:
            s, _, f = segments[-1]
            segments[-1] = (s, t + hop_s, f)
        elif hz:
            segments.append((t, t + hop_s, hz))
    pitch_segments = [(round(s, 2), round(min(e, duration), 2), round(f)) for s, e, f in segments if e - s >= 0.1]

    # onsets from positive spectral flux
    flux = np.maximum(np.diff(spec, axis=0), 0).sum(axis=1) if len(spec) > 1 else np.zeros(0)
    onset_rate, tempo = 0.0, None
    if flux.size > 3 and flux.max() > 0:
        thr = flux.mean() + 1.5 * flux.std()
        peaks = [i for i in range(1, flux.size - 1) if flux[i] > thr and flux[i] >= flux[i - 1] and flux[i] >= flux[i + 1]]
        onset_rate = len(peaks) / max(duration, 1e-9)
        if len(peaks) >= 4:
            intervals = np.diff(np.array(peaks) * hop_s)
            beat = float(np.median(intervals))
            if beat > 0:
                tempo = round(60.0 / beat, 1)
    return AudioAnalysis(
        duration_s=round(duration, 2),
        rms_dbfs=round(float(_db(np.sqrt(np.mean(wave_.astype(np.float64) ** 2)))), 1),
        peak_dbfs=round(float(_db(np.abs(wave_).max())), 1),
        window_s=window_s,
        loudness_dbfs=loud,
        silences=silences,
        centroid_hz=round(centroid),
        pitch_segments=pitch_segments,
        onset_rate_hz=round(onset_rate, 2),
        tempo_bpm=tempo,
    )
