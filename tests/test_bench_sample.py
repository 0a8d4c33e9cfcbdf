"""The sample benchmark: every task covered, and every answer re-derived from what the media
digest measures (``prepare_media`` on the written clips), by the rule ``meta.evidence`` names.
Left/right loudness is the one fact the (mono) digest does not carry: it is measured on the
decoded stereo channels instead."""

from __future__ import annotations

import re

import av
import numpy as np
import pytest

from aurelia.bench import builtin_tasks, load_manifest, normalize_answer, write_sample_benchmark
from aurelia.bench.manifest import Sample
from aurelia.bench.metrics import answer_letter
from aurelia.media.prepare import prepare_media

COLOUR_WORDS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "white", "black", "gray")
FLAGS = {("green", "white", "red"): "Italy", ("blue", "white", "red"): "France", ("black", "red", "yellow"): "Germany"}
NUMBERS = {2: "two", 3: "three", 4: "four"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    manifest = write_sample_benchmark(tmp_path_factory.mktemp("sample"))
    return load_manifest(manifest, probe=True).samples


def digest_of(sample: Sample) -> str:
    return prepare_media(sample.video, sample.audio, audio_candidates=sample.audio_candidates)["digest"]


def pitch_segments(digest: str) -> list[tuple[float, float, float]]:
    line = next((ln for ln in digest.splitlines() if ln.startswith("Dominant pitch:")), "")
    return [(float(a), float(b), float(hz)) for a, b, hz in re.findall(r"([\d.]+)s-([\d.]+)s ~([\d.]+) Hz", line)]


def silences(digest: str) -> list[tuple[float, float]]:
    line = next(ln for ln in digest.splitlines() if ln.startswith("Silence:"))
    return [(float(a), float(b)) for a, b in re.findall(r"([\d.]+)s-([\d.]+)s", line)]


def keyframes(digest: str) -> list[tuple[float, str]]:
    return [(float(t), c) for t, c in re.findall(r"^- ([\d.]+)s: (\w+) \(R", digest, re.M)]


def colour_sequence(digest: str) -> list[str]:
    seq: list[str] = []
    for _, colour in keyframes(digest):
        if not seq or seq[-1] != colour:
            seq.append(colour)
    return seq


def colour_between(digest: str, start: float, end: float) -> str:
    return next(c for t, c in keyframes(digest) if start - 0.1 <= t < end)


def colours_named(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w in COLOUR_WORDS]


def candidate_bpm(digest: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for letter, block in re.findall(r"^Audio option (\w):(.*?)(?=^Audio option|\Z)", digest, re.M | re.S):
        m = re.search(r"steady pulse ~([\d.]+) BPM", block)
        out[letter] = float(m.group(1)) if m else None
    return out


def channel_levels(path: str) -> tuple[float, float]:
    with av.open(path) as container:
        wave = np.concatenate([f.to_ndarray() for f in container.decode(container.streams.audio[0])], axis=1)
    left, right = np.sqrt((wave.astype(np.float64) ** 2).mean(axis=1))
    return float(left), float(right)


def derive(sample: Sample, digest: str) -> None:
    """Assert that the sample's answer follows from the measured facts, by its evidence rule."""
    rule = sample.meta["evidence"]
    texts = sample.all_references()
    if rule == "beep_count":
        count = len(pitch_segments(digest))
        assert all(str(count) in normalize_answer(t).split() for t in texts), (count, texts)
    elif rule == "louder_side":
        left, right = channel_levels(sample.video)
        assert sample.answer == ("right" if right > 2 * left else "left" if left > 2 * right else "neither")
    elif rule == "silence_exists":
        assert sample.answer == ("yes" if silences(digest) else "no")
    elif rule == "high_first":
        pitches = pitch_segments(digest)
        low_first = pitches[0][2] < pitches[-1][2]
        expected = {"music_avqa": "no" if low_first else "yes", "av_compositional": "The low tone" if low_first else "The high tone"}
        assert sample.answer == expected[sample.task]
    elif rule == "colour_sequence":
        seq = colour_sequence(digest)
        for text in texts:
            named = colours_named(text)
            assert named and named == seq[: len(named)], (text, seq)
        if sample.choices:
            assert colours_named(sample.answer) == seq
    elif rule == "colour_during_high":
        start, end, _ = max(pitch_segments(digest), key=lambda p: p[2])
        assert sample.answer == colour_between(digest, start, end)
    elif rule == "colour_when_silent":
        start, end = silences(digest)[0]
        colour = colour_between(digest, start, end)
        assert colour in colours_named(sample.answer)
        assert all(set(colours_named(t)) <= {colour} for t in texts), (colour, texts)
    elif rule == "flag":
        assert sample.answer == FLAGS[tuple(colour_sequence(digest))]
    elif rule == "meme":
        pitches, quiet, seq = pitch_segments(digest), silences(digest), colour_sequence(digest)
        if not pitches and quiet and quiet[0][0] == 0.0:
            kind = 1  # silent all along: the sound of silence
        elif quiet and quiet[0][0] == 0.0 and seq[:2] == ["black", "white"]:
            kind = 0  # dark and quiet, then bright and loud: a jump scare
        elif len(pitches) >= 3 and np.ptp(np.diff([p[0] for p in pitches])) <= 0.2:
            kind = 2  # evenly spaced beeps: counting sheep
        else:
            kind = 3
        assert answer_letter(sample.answer, sample.choices or []) == "ABCD"[kind]
    elif rule == "tempo_match":
        cuts = [float(t) for t in re.findall(r"([\d.]+)s", digest.split("Scene changes", 1)[1].split("\n", 1)[0])]
        video_bpm = 60 / float(np.median(np.diff(cuts)))
        bpm = candidate_bpm(digest)
        matches = [k for k, v in bpm.items() if v is not None and abs(v - video_bpm) / video_bpm < 0.05]
        assert matches == [answer_letter(sample.answer, sample.choices or [])], (video_bpm, bpm)
    else:
        raise AssertionError(f"no rule {rule!r}")


def test_every_task_is_covered_and_every_line_is_valid(samples: list[Sample]) -> None:
    assert len(samples) == 24
    assert {s.task for s in samples} == set(builtin_tasks())
    assert {builtin_tasks()[s.task].answer_kind for s in samples} == {"choice", "short", "sentence", "caption"}
    assert all(len(s.audio_candidates or []) == 4 for s in samples if s.task == "dance_music")
    letters = [answer_letter(s.answer, s.choices) for s in samples if s.choices]
    assert len(set(letters)) == 4  # the right answer is not always in the same place


def test_every_answer_follows_from_the_media(samples: list[Sample]) -> None:
    checked = []
    for sample in samples:
        derive(sample, digest_of(sample))
        checked.append(sample.meta["evidence"])
    assert len(checked) == 24
