"""The digest's figures against synthetic ground truth: cut times, colours, tones, silences, tempo."""

from __future__ import annotations

import re

import numpy as np
import pytest
from media_clips import RGB, RGB_CUTS, needs_index_entries

from aurelia.media.audio import analyse, analyse_file, flac_bytes, load_audio, wav_bytes
from aurelia.media.digest import colour_name, note_name
from aurelia.media.keyframes import scan, scan_keyframes
from aurelia.media.prepare import prepare_media
from aurelia.testing.clips import Segment, cut_times, make_clip, tone, write_audio_file


def test_cuts_colours_and_keyframes(clip):
    s = scan_keyframes(clip, max_frames=3)
    assert cut_times(RGB) == RGB_CUTS
    assert s.cut_times == pytest.approx(RGB_CUTS, abs=0.041)  # frame-accurate (25 fps): x264 puts a reference frame on the cut
    assert [colour_name(s.samples[i].mean_rgb) for i in s.keyframe_indices] == ["red", "blue", "green"]
    assert s.times[0] == 0.0 and all(abs(t - c) <= 0.5 for t, c in zip(s.times[1:], RGB_CUTS, strict=True))
    assert scan_keyframes(clip, max_frames=3) == s  # deterministic


def test_coverage_fills_gaps_up_to_the_cap(clip):
    s = scan_keyframes(clip, max_frames=6)
    assert len(s.times) == 6
    assert max(np.diff([*s.times, 6.0])) <= 1.6


def test_motion_is_not_a_cut(tmp_path):
    moving = make_clip(
        tmp_path / "pan.mp4", [Segment(3, (120, 120, 40), texture=True, motion=True), Segment(3, (30, 60, 220), texture=True)]
    )
    s = scan_keyframes(moving)
    assert s.cut_times == pytest.approx([3.0], abs=0.5)


def test_fast_mode_reads_only_keyframes(tmp_path):
    path = make_clip(tmp_path / "gop.mp4", RGB, options={"g": "25", "keyint_min": "25", "sc_threshold": "0"})
    s = scan(path, mode="fast")
    assert s.decoded_frames <= 7  # one per keyframe (every second), not 150
    assert [round(x.time_s) for x in s.samples] == [0, 1, 2, 3, 4, 5]
    assert [colour_name(x.mean_rgb) for x in s.samples] == ["red", "red", "blue", "blue", "green", "green"]


@needs_index_entries
def test_long_sparse_sampling_seeks_instead_of_decoding_everything(tmp_path):
    path = make_clip(tmp_path / "long.mp4", [Segment(10, (220, 30, 30)), Segment(10, (30, 60, 220))], size=(64, 48), options={"g": "10"})
    s = scan(path, sample_fps=0.25)  # one sample every 4 s, keyframe every 0.4 s
    assert s.seeks >= 3 and s.decoded_frames < 250
    assert [round(x.time_s) for x in s.samples] == [0, 4, 8, 12, 16]


def test_tones_silence_and_tempo_from_the_signal(tmp_path):
    path = write_audio_file(tmp_path / "t.wav", [Segment(2, (0, 0, 0), 440.0), Segment(2, (0, 0, 0), 880.0), Segment(2, (0, 0, 0), None)])
    a, truncated = analyse_file(path)
    assert not truncated and a.duration_s == 6.0
    (s1, e1, f1), (s2, e2, f2) = a.pitch_segments
    assert (f1, f2) == (pytest.approx(440, rel=0.01), pytest.approx(880, rel=0.01))
    assert (s1, e1, s2, e2) == pytest.approx((0, 2, 2, 4), abs=0.1)
    assert a.silences == [pytest.approx((4.0, 6.0), abs=0.1)]
    assert note_name(f1) == "A4" and note_name(f2) == "A5"


@pytest.mark.parametrize("bps", [1.5, 2, 3])
def test_tempo_of_beeps(bps):
    a = analyse(tone(Segment(8, (0, 0, 0), 660.0, beeps_per_s=bps), 16_000))
    assert a.tempo_bpm == pytest.approx(60 * bps, rel=0.03)
    assert a.onset_rate_hz == pytest.approx(bps, rel=0.15)


def test_no_tempo_claimed_for_a_steady_tone():
    assert analyse(tone(Segment(6, (0, 0, 0), 500.0), 16_000)).tempo_bpm is None


def test_streamed_analysis_matches_in_memory_and_trims(tone_wav):
    wave_, _ = load_audio(tone_wav)
    streamed, _ = analyse_file(tone_wav)
    assert streamed == analyse(wave_)
    trimmed, _ = load_audio(tone_wav, max_seconds=1.25)
    assert trimmed.size == 20_000


def test_wav_and_flac_round_trip(tmp_path, tone_wav):
    wave_, _ = load_audio(tone_wav)
    for ext, data in (("wav", wav_bytes(wave_)), ("flac", flac_bytes(wave_))):
        path = tmp_path / f"rt.{ext}"
        path.write_bytes(data)
        back, _ = load_audio(path)
        assert back.size == wave_.size and np.abs(back - wave_).max() < 1e-3
    assert len(flac_bytes(wave_)) < len(wav_bytes(wave_))


def test_digest_text_states_the_measured_facts(clip):
    d = prepare_media(str(clip))["digest"]
    for fact in (
        "6.0s, 160x120, 25 fps",
        "red",
        "blue",
        "green",
        "~440 Hz (A4)",
        "~880 Hz (A5)",
        "Silence: 4.0s-6.0s",
        "Scene changes (2): 2.0s, 4.0s.",
    ):
        assert fact in d, fact


def test_candidates_and_separate_audio(tmp_path, silent_clip, tone_wav):
    options = [write_audio_file(tmp_path / f"o{k}.wav", [Segment(4, (0, 0, 0), 330.0, beeps_per_s=k + 1)]) for k in range(4)]
    media = prepare_media(str(silent_clip), audio=str(tone_wav), audio_candidates=[str(p) for p in options])
    assert [c["label"] for c in media["audio_candidates"]] == ["A", "B", "C", "D"]
    assert "Audio from separate audio file" in media["digest"] and "~660 Hz" in media["digest"]
    for letter in "ABCD":
        assert f"Audio option {letter}:" in media["digest"]
    option_b = media["digest"].split("Audio option B")[1].split("Audio option C")[0]
    assert float(re.search(r"steady pulse ~([\d.]+) BPM", option_b).group(1)) == pytest.approx(120, rel=0.03)
