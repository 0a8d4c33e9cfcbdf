"""Manifest validation: every bad line is reported with its line number, field and reason; the
valid lines stay usable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aurelia.bench import ManifestError, load_manifest, validate_manifest
from aurelia.errors import InputError
from aurelia.testing.clips import Segment, make_clip


def line(**fields: object) -> str:
    base = {
        "id": "s1",
        "task": "av_compositional",
        "video": "clip.mp4",
        "question": "Which comes first?",
        "choices": ["red", "blue"],
        "answer": "red",
    }
    return json.dumps({k: v for k, v in (base | fields).items() if v is not None})


LINES = [
    line(),  # 1: valid
    '{"id": "s2", "task": ',  # 2: bad JSON
    line(id=7, category="Counting"),  # 3: wrong types
    line(id="s4", video="gone.mp4"),  # 4: missing media
    line(answer="blue"),  # 5: duplicate id s1
    line(id="s6", task="karaoke"),  # 6: unknown task
    line(id="s7", answer="purple"),  # 7: answer not among choices
    "",  # 8: blank, ignored
    "[1, 2]",  # 9: not an object
    line(id="s10", question=None),  # 10: missing field
    line(id="s11", task="dance_music", choices=["A", "B", "C"], answer="B", audio_candidates=["clip.mp4"] * 3),  # 11
    line(id="s12", task="music_avqa", choices=None, answer="two", colour="red"),  # 12: unknown field
    line(id="s13", task="avsd", answer="it is red", history=[{"question": "q?"}]),  # 13: choices on an open task, bad history
    line(id="s14", task="music_avqa", choices=None, answer="two", video="folder"),  # 14: a folder as the video
    line(id="s15", task="music_avqa", choices=None, answer="  "),  # 15: blank answer
]

EXPECTED = [
    (2, None, "bad JSON"),
    (3, "id", "valid string, got a number"),
    (3, "category", "valid list, got a string"),
    (4, "video", "file not found"),
    (5, "id", "duplicate id 's1' (first on line 1)"),
    (6, "task", "unknown task 'karaoke'"),
    (7, "answer", "'purple' is not among the choices"),
    (9, None, "JSON object, got list"),
    (10, "question", "missing (required)"),
    (11, "audio_candidates", "exactly 4 candidate audio clips, got 3"),
    (12, "colour", "unknown field"),
    (13, "history.0.answer", "missing (required)"),
    (14, "video", "is a folder"),
    (15, "answer", "must not be blank"),
]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    make_clip(tmp_path / "clip.mp4", [Segment(1, (200, 30, 30), 440.0)])
    (tmp_path / "folder").mkdir()
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    return path


def test_every_bad_line_is_reported_with_field_and_reason(manifest: Path) -> None:
    result = validate_manifest(manifest)
    got = [(p.line, p.field) for p in result.problems]
    assert got == [(n, f) for n, f, _ in EXPECTED]
    for problem, (_, _, reason) in zip(result.problems, EXPECTED, strict=True):
        assert reason in problem.reason, problem
    assert [s.id for s in result.samples] == ["s1"]
    assert result.lines == 14
    assert result.bad_lines == [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15]


def test_the_open_task_with_choices_is_reported_once_the_history_is_fixed(tmp_path: Path, manifest: Path) -> None:
    path = tmp_path / "m2.jsonl"
    path.write_text(line(id="s13", task="avsd", answer="it is red") + "\n")
    [problem] = validate_manifest(path).problems
    assert (problem.field, problem.reason) == ("choices", "task avsd takes no choices (its answers are sentence text)")


def test_load_raises_one_typed_error_unless_skip_invalid(manifest: Path) -> None:
    with pytest.raises(ManifestError) as err:
        load_manifest(manifest)
    assert err.value.path == str(manifest)
    assert str(err.value).startswith(f"{manifest}: 13 of 14 lines invalid: line 2: bad JSON")
    assert len(err.value.problems) == len(EXPECTED)
    kept = load_manifest(manifest, skip_invalid=True)
    assert [s.id for s in kept.samples] == ["s1"]
    assert len(kept.problems) == len(EXPECTED)


def test_media_paths_resolve_against_the_media_root(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    make_clip(media / "clip.mp4", [Segment(1, (200, 30, 30), 440.0)])
    path = tmp_path / "elsewhere" / "m.jsonl"
    path.parent.mkdir()
    path.write_text(line() + "\n")
    assert [p.field for p in validate_manifest(path).problems] == ["video"]  # the manifest's folder by default
    loaded = load_manifest(path, media_root=media)
    assert loaded.samples[0].video == str(media / "clip.mp4")
    with pytest.raises(InputError, match="media root is not a folder"):
        validate_manifest(path, media_root=tmp_path / "nope")


def test_probe_reports_files_that_are_not_media(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"this is not a video")
    path = tmp_path / "m.jsonl"
    path.write_text(line() + "\n")
    assert validate_manifest(path).problems == []  # cheap check: exists, readable, not empty
    [problem] = validate_manifest(path, probe=True).problems
    assert problem.field == "video"


def test_answers_given_as_letters_and_ambiguous_letters(tmp_path: Path) -> None:
    make_clip(tmp_path / "clip.mp4", [Segment(1, (200, 30, 30), 440.0)])
    path = tmp_path / "m.jsonl"
    path.write_text(line(answer="B") + "\n" + line(id="s2", choices=["B", "A"], answer="A") + "\n")
    result = validate_manifest(path)
    assert [s.id for s in result.samples] == ["s1"]
    assert [(p.line, p.field) for p in result.problems] == [(2, "answer")]


def test_unreadable_manifests_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="manifest not found"):
        validate_manifest(tmp_path / "missing.jsonl")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"id": "caf\xe9"}\n')  # a line that is not UTF-8 is that line's problem
    assert [str(p) for p in validate_manifest(tmp_path / "latin1.jsonl").problems] == ["line 1: not UTF-8 text (byte 0xe9 at column 12)"]
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="no valid samples"):
        load_manifest(tmp_path / "empty.jsonl")
