"""Audio: streamed decode resampled to 16 kHz mono float32 (PyAV's resampler), WAV/FLAC encoding
for providers that take audio, and measurements computed with numpy while the audio streams by.

The analyser never holds the waveform: it keeps a 2048-sample overlap buffer and a few numbers
per 32 ms hop (level, dominant pitch, spectral centroid, onset strength), so a 10-minute track
costs about as much memory as a 1-minute one.
"""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import numpy as np

from aurelia.errors import MediaError
from aurelia.media.probe import open_container

SAMPLE_RATE = 16_000
WINDOW_S = 0.5
SILENCE_DBFS = -45.0
MIN_SILENCE_S = 0.5
NO_TONE_SHARE = 1e-4  # a frame with less of its energy in 50-4000 Hz has no pitch there (only leakage)
MAX_PITCH_GAP_S = 0.5  # a repeated note (beeps) with short gaps counts as one segment
FFT_SIZE = 2048
HOP = 512  # 32 ms at 16 kHz
MIN_BPM, MAX_BPM = 40.0, 240.0
TEMPO_MIN_PERIODICITY = 0.3  # autocorrelation at the beat lag / at lag 0, below which no tempo is claimed


class AudioReader:
    """Iterate over mono float32 chunks at ``sample_rate`` from the first audio stream.

    ``truncated`` is set when decoding fails part-way (what decoded before is kept) or the
    stream ends well before the duration the container states. ``max_seconds`` trims."""

    def __init__(self, path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> None:
        self.path, self.sample_rate, self.max_seconds = str(path), sample_rate, max_seconds
        self.truncated = False
        self.trimmed = False
        self.samples = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        limit = int(self.max_seconds * self.sample_rate) if self.max_seconds else None
        with open_container(self.path) as container:
            if not container.streams.audio:
                raise MediaError("no audio stream", path=self.path)
            stream = container.streams.audio[0]
            if stream.codec_context is None:
                raise MediaError("unsupported codec: no decoder for the audio stream", path=self.path)
            stated = (
                float(stream.duration * stream.time_base)
                if stream.duration and stream.time_base
                else (container.duration or 0) / av.time_base
            )
            resampler = av.AudioResampler(format="flt", layout="mono", rate=self.sample_rate)
            try:
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        yield from self._emit(out.to_ndarray().reshape(-1), limit)
                    if limit is not None and self.samples >= limit:
                        self.trimmed = True
                        return
                for out in resampler.resample(None):
                    yield from self._emit(out.to_ndarray().reshape(-1), limit)
            except av.error.FFmpegError:
                self.truncated = True
            if stated and self.samples / self.sample_rate < stated - max(1.0, 0.05 * stated):
                self.truncated = True

    def _emit(self, arr: np.ndarray, limit: int | None) -> Iterator[np.ndarray]:
        if limit is not None:
            arr = arr[: max(0, limit - self.samples)]
        if arr.size:
            self.samples += arr.size
            yield arr.astype(np.float32, copy=False)


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> tuple[np.ndarray, bool]:
    """Decode the first audio stream to mono float32 at ``sample_rate``; returns (wave, truncated)."""
    reader = AudioReader(path, sample_rate, max_seconds)
    chunks = list(reader)
    wave_ = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return wave_, reader.truncated


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


def flac_bytes(wave_: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Lossless FLAC (PyAV's encoder), about half the size of WAV, for providers that accept it."""
    buf = io.BytesIO()
    pcm = (np.clip(wave_, -1.0, 1.0) * 32767).astype(np.int16)
    with av.open(buf, mode="w", format="flac") as out:
        stream = out.add_stream("flac", rate=sample_rate)
        stream.layout = "mono"
        stream.format = "s16"
        for i in range(0, pcm.size, 4096):
            frame = av.AudioFrame.from_ndarray(pcm[i : i + 4096].reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
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
    onsets: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _db(x: np.ndarray | float) -> np.ndarray | float:
    return 20 * np.log10(np.maximum(x, 1e-9))


class _Column:
    """A float32 column that grows by doubling: a few bytes per analysis frame, no per-chunk objects."""

    def __init__(self) -> None:
        self.data = np.zeros(1024, np.float32)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        end = self.size + values.size
        if end > self.data.size:
            self.data = np.resize(self.data, max(end, 2 * self.data.size))
        self.data[self.size : end] = values
        self.size = end

    @property
    def values(self) -> np.ndarray:
        return self.data[: self.size].astype(np.float64)


BATCH = FFT_SIZE + 31 * HOP  # analyse in batches of 32 frames (about 1 s), not per decoded chunk


class AudioAnalyser:
    """Streaming measurements: feed chunks in order, then call :meth:`result`."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, window_s: float = WINDOW_S) -> None:
        self.sr, self.window_s = sample_rate, window_s
        self.win = max(1, int(window_s * sample_rate))
        self.n = 0
        self.sum_sq = 0.0
        self.peak = 0.0
        self.window_sq: list[float] = []
        self.buf = np.zeros(0, np.float32)
        self.hann = np.hanning(FFT_SIZE).astype(np.float32)
        self.freqs = np.fft.rfftfreq(FFT_SIZE, 1 / sample_rate)
        self.band = (self.freqs >= 50) & (self.freqs <= 4000)
        self.prev_logmag: np.ndarray | None = None
        self.prev_db = -180.0
        self.frame_db, self.frame_f0, self.frame_energy, self.frame_centroid, self.frame_flux = (_Column() for _ in range(5))

    def feed(self, chunk: np.ndarray) -> None:
        x = chunk.astype(np.float64)
        if not x.size:
            return
        # loudness windows by absolute sample index
        idx = (self.n + np.arange(x.size)) // self.win
        sums = np.bincount(idx - idx[0], weights=x * x)
        first = int(idx[0])
        while len(self.window_sq) < first + sums.size:
            self.window_sq.append(0.0)
        for k, v in enumerate(sums):
            self.window_sq[first + k] += float(v)
        self.n += x.size
        self.sum_sq += float((x * x).sum())
        self.peak = max(self.peak, float(np.abs(x).max()))
        self.buf = np.concatenate([self.buf, chunk.astype(np.float32)])
        self._frames(final=False)

    def _frames(self, final: bool) -> None:
        if final:
            # the frame grid depends only on the total length: frames start every HOP while any signal remains
            total = 1 if self.n <= FFT_SIZE else -(-(self.n - FFT_SIZE) // HOP) + 1
            remaining = total - self.frame_db.size
            if remaining <= 0:
                return
            need = (remaining - 1) * HOP + FFT_SIZE
            self.buf = np.pad(self.buf, (0, max(0, need - self.buf.size)))[:need]
        if self.buf.size < (FFT_SIZE if final else BATCH):
            return
        count = (self.buf.size - FFT_SIZE) // HOP + 1
        frames = np.lib.stride_tricks.sliding_window_view(self.buf, FFT_SIZE)[::HOP][:count]
        rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
        mag = np.abs(np.fft.rfft(frames * self.hann, axis=1))
        level = _db(rms)
        self.frame_db.extend(level)
        self.frame_energy.extend(mag.sum(axis=1))
        self.frame_centroid.extend(mag @ self.freqs)
        self.frame_f0.extend(self._dominant(mag))
        logmag = np.log1p(100 * mag)
        prev = logmag[:1] if self.prev_logmag is None else self.prev_logmag
        flux = np.maximum(np.diff(np.vstack([prev, logmag]), axis=0), 0).sum(axis=1)
        # only where the level rises: an abrupt stop splatters energy across bins but is not an onset
        prev_level = np.concatenate([[self.prev_db], level[:-1]])
        self.frame_flux.extend(np.where(level > prev_level + 0.5, flux, 0.0))
        self.prev_logmag, self.prev_db = logmag[-1:], float(level[-1])
        self.buf = self.buf[count * HOP :]

    def _dominant(self, mag: np.ndarray) -> np.ndarray:
        """Strongest bin in 50-4000 Hz per frame, refined by parabolic interpolation of the log
        spectrum; 0 where the band holds (almost) none of the frame's energy."""
        lo = int(np.argmax(self.band))
        sub = np.log(mag[:, self.band] + 1e-12)
        k = np.argmax(sub, axis=1)
        kk = np.clip(k, 1, sub.shape[1] - 2)
        rows = np.arange(sub.shape[0])
        a, b, c = sub[rows, kk - 1], sub[rows, kk], sub[rows, kk + 1]
        denom = a - 2 * b + c
        delta = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(np.abs(denom) > 1e-12, denom, 1), 0.0)
        delta = np.where(k == kk, np.clip(delta, -0.5, 0.5), 0.0)
        # a constant (DC-only) signal is loud but puts no energy in the band: no pitch, whatever its level
        power = mag.astype(np.float64) ** 2
        in_band = power[:, self.band].sum(axis=1) / np.maximum(power.sum(axis=1), 1e-30)
        return np.where(in_band > NO_TONE_SHARE, (lo + k + delta) * self.sr / FFT_SIZE, 0.0)

    def result(self) -> AudioAnalysis:
        self._frames(final=True)
        duration = self.n / self.sr
        if self.n == 0:
            return AudioAnalysis(duration_s=0.0, rms_dbfs=-180.0, peak_dbfs=-180.0, window_s=self.window_s)
        counts = [min(self.win, self.n - k * self.win) for k in range(len(self.window_sq))]
        loud = [round(float(_db(np.sqrt(s / max(c, 1)))), 1) for s, c in zip(self.window_sq, counts, strict=True)]
        db, f0, energy = self.frame_db.values, self.frame_f0.values, self.frame_energy.values
        centroid_num, flux = self.frame_centroid.values, self.frame_flux.values
        voiced = energy > energy.max() * 1e-3 if energy.size and energy.max() > 0 else np.zeros(energy.size, bool)
        centroid = float(centroid_num[voiced].sum() / max(energy[voiced].sum(), 1e-9)) if voiced.any() else 0.0
        onsets, tempo = _onsets_and_tempo(flux, db, self.sr)
        return AudioAnalysis(
            duration_s=round(duration, 2),
            rms_dbfs=round(float(_db(np.sqrt(self.sum_sq / self.n))), 1),
            peak_dbfs=round(float(_db(self.peak)), 1),
            window_s=self.window_s,
            loudness_dbfs=loud,
            silences=_silences(db, self.sr, duration),
            centroid_hz=round(centroid),
            pitch_segments=_pitch_segments(f0, db, self.sr, duration),
            onset_rate_hz=round(onsets / max(duration, 1e-9), 2),
            tempo_bpm=tempo,
            onsets=onsets,
        )


def _silences(db: np.ndarray, sr: int, duration: float) -> list[tuple[float, float]]:
    """Runs of analysis frames below the silence level; each silent frame vouches for its whole 128 ms span."""
    hop_s, half = HOP / sr, FFT_SIZE / (2 * sr)
    out: list[tuple[float, float]] = []
    start = None
    for k, level in enumerate([*db.tolist(), 0.0]):
        if level < SILENCE_DBFS and start is None:
            start = k
        elif level >= SILENCE_DBFS and start is not None:
            s = 0.0 if start == 0 else start * hop_s
            e = min((k - 1) * hop_s + 2 * half, duration)
            if e - s >= MIN_SILENCE_S:
                out.append((round(s, 2), round(e, 2)))
            start = None
    return out


def _pitch_segments(f0: np.ndarray, db: np.ndarray, sr: int, duration: float) -> list[tuple[float, float, float]]:
    """Merge frames whose dominant pitch agrees (within 3%) into timed segments (frame centres +- half a hop)."""
    hop_s = HOP / sr
    centre0 = FFT_SIZE / (2 * sr)
    segments: list[list[float]] = []  # start, end, sum of hz, count
    for k, (hz, level) in enumerate(zip(f0, db, strict=True)):
        if level <= SILENCE_DBFS or hz <= 0:  # silent, or no tone in the band (0: see _dominant)
            continue
        t = centre0 + k * hop_s
        if segments:
            s = segments[-1]
            mean = s[2] / s[3]
            if abs(mean - hz) <= max(3.0, 0.03 * hz) and t - hop_s / 2 - s[1] <= MAX_PITCH_GAP_S:
                s[1] = t + hop_s / 2
                s[2] += float(hz)
                s[3] += 1
                continue
        segments.append([0.0 if k == 0 else t - hop_s / 2, t + hop_s / 2, float(hz), 1])
    return [(round(max(s, 0.0), 2), round(min(e, duration), 2), round(h / n)) for s, e, h, n in segments if e - s >= 0.1]


def _onsets_and_tempo(flux: np.ndarray, db: np.ndarray, sr: int) -> tuple[int, float | None]:
    """Onsets: local maxima of positive log-spectral flux well above its mean. Tempo: the shortest
    strong period of the flux autocorrelation (40-240 BPM), so a sub-multiple is not mistaken for it."""
    if flux.size < 8 or flux.max() <= 0:
        return 0, None
    hop_s = HOP / sr
    thr = flux.mean() + 1.5 * flux.std()
    radius = max(1, int(0.05 / hop_s))
    padded = np.pad(flux, radius, constant_values=-np.inf)
    window_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1).max(axis=1)
    onset_frames = np.flatnonzero((flux >= window_max) & (flux > thr) & (db > SILENCE_DBFS - 20))
    onsets = int(onset_frames.size)
    if onsets < 4:
        return onsets, None
    x = flux - flux.mean()
    lo, hi = int(np.floor(60 / MAX_BPM / hop_s)), int(np.ceil(60 / MIN_BPM / hop_s))
    hi = min(hi, x.size - 2)
    if hi <= lo + 2:
        return onsets, None
    acf = np.array([float(np.dot(x[: x.size - lag], x[lag:])) for lag in range(0, hi + 2)])
    if acf[0] <= 0:
        return onsets, None
    peaks = [lag for lag in range(max(lo, 1), hi + 1) if acf[lag] >= acf[lag - 1] and acf[lag] >= acf[lag + 1] and acf[lag] > 0]
    if not peaks:
        return onsets, None
    best = max(acf[p] for p in peaks)
    if best / acf[0] < TEMPO_MIN_PERIODICITY:
        return onsets, None
    lag = min(p for p in peaks if acf[p] >= 0.8 * best)
    a, b, c = acf[lag - 1], acf[lag], acf[lag + 1]
    denom = a - 2 * b + c
    frac = 0.5 * (a - c) / denom if denom else 0.0
    period = (lag + float(np.clip(frac, -0.5, 0.5))) * hop_s
    span = (onset_frames[-1] - onset_frames[0]) * hop_s + period
    if onsets < 0.5 * span / period:  # a pulse needs onsets on at least half its beats, where onsets occur
        return onsets, None
    return onsets, round(60.0 / period, 1)


def analyse(wave_: np.ndarray, sample_rate: int = SAMPLE_RATE, window_s: float = WINDOW_S) -> AudioAnalysis:
    """Measure an in-memory waveform (fed in chunks, exactly as a streamed file would be)."""
    analyser = AudioAnalyser(sample_rate, window_s)
    for i in range(0, wave_.size, 1 << 16):
        analyser.feed(wave_[i : i + (1 << 16)])
    return analyser.result()


def analyse_file(path: str | os.PathLike, max_seconds: float | None = None) -> tuple[AudioAnalysis, bool]:
    """Stream the file's audio through the analyser; returns (analysis, truncated). Memory stays bounded."""
    reader = AudioReader(path, SAMPLE_RATE, max_seconds)
    analyser = AudioAnalyser(SAMPLE_RATE)
    for chunk in reader:
        analyser.feed(chunk)
    return analyser.result(), reader.truncated
