"""prepare: the measured digest and media reference on clips with known content."""

from __future__ import annotations

import re

import pytest
from fakes import REASONING_JSON, all_text, fake

from aurelia import Context, build_graph
from aurelia.errors import MediaError
from aurelia.media.prepare import prepare_media


def test_digest_reports_measured_colours_cuts_tones_and_silence(clip):
    media = prepare_media(str(clip), None, num_frames=5)
    digest = media["digest"]
    assert "Video: 6.0s, 160x120, 25 fps" in digest
    for colour in ("red", "blue", "green"):
        assert f": {colour} (" in digest
    cuts = [float(t) for t in re.findall(r"- (\d+\.\d)s: \w+ \([^)]*\)[^\n]*\[scene change\]", digest)]
    assert cuts and all(min(abs(c - 2.0), abs(c - 4.0)) <= 0.5 for c in cuts)
    assert re.search(r"Silence: 4\.\ds-6\.0s", digest)
    pitches = [float(f) for f in re.findall(r"~(\d+) Hz", digest)]
    assert any(abs(p - 440) <= 15 for p in pitches) and any(abs(p - 880) <= 25 for p in pitches)
    assert media["has_audio"] and media["audio"] is None and len(media["keyframe_times"]) == 5


def test_separate_audio_for_a_silent_video(silent_clip, tone_wav):
    media = prepare_media(str(silent_clip), str(tone_wav))
    assert media["audio"] == str(tone_wav) and media["has_audio"]
    assert "Audio from separate audio file" in media["digest"]
    assert re.search(r"~6[56]\d Hz", media["digest"])
    silent = prepare_media(str(silent_clip))
    assert not silent["has_audio"] and "Audio: none" in silent["digest"]


def test_separate_audio_reaches_the_generator(silent_clip, tone_wav):
    gen = fake(REASONING_JSON)
    graph = build_graph(models={"generator": gen, "summarizer": fake("c"), "evaluator": fake("Score: 9"), "target": fake("a tone")})
    graph.invoke({"video": str(silent_clip), "audio": str(tone_wav), "question": "What is heard?"}, context=Context())
    assert "separate audio file" in all_text(gen.seen[0])


def _written(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing.mp4", "file not found"),
        (lambda d: d, "is a directory"),
        (lambda d: _written(d / "empty.mp4", b""), "file is empty"),
        (lambda d: _written(d / "noise.mp4", b"\x00\x01garbage" * 500), "not a readable media file"),
    ],
)
def test_bad_media_is_a_typed_error_naming_the_file(tmp_path, make, needle):
    path = make(tmp_path)
    with pytest.raises(MediaError, match=needle) as info:
        prepare_media(str(path))
    assert str(path) in str(info.value)


def test_audio_only_file_as_video(tone_wav):
    with pytest.raises(MediaError, match="no video stream"):
        prepare_media(str(tone_wav))


def test_candidate_audio_clips_reach_the_generator(silent_clip, tone_wav, clip):
    gen = fake(REASONING_JSON)
    graph = build_graph(models={"generator": gen, "summarizer": fake("c"), "evaluator": fake("Score: 9"), "target": fake("B")})
    out = graph.invoke(
        {"video": str(silent_clip), "audio_candidates": [str(clip), str(tone_wav)], "question": "Which audio fits?", "choices": ["A", "B"]},
        context=Context(),
    )
    text = all_text(gen.seen[0])
    assert "Audio option A" in text and "Audio option B" in text
    assert out["answer_choice"] == "B"
