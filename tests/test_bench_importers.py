"""Importers on small files in the datasets' real formats (tests/data/bench): what is imported,
what is skipped and why, and that the written manifest validates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aurelia.bench import import_dataset, import_to_manifest, parse_mapping, validate_manifest
from aurelia.bench.importers import fill_placeholders, to_reasoning
from aurelia.errors import InputError

DATA = Path(__file__).parent / "data" / "bench"


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A media root with the videos the annotation files name (placeholders: importers only look them up)."""
    root = tmp_path / "media"
    root.mkdir()
    for name in ("00000272.mp4", "00000351.mkv", "QRX1A.mp4", "B7Y2K.mp4"):
        (root / name).write_bytes(b"\x00video")
    return root


def test_music_avqa(media: Path) -> None:
    rows, report = import_dataset("music-avqa", DATA / "music_avqa_test.json", media)
    assert (report.read, report.imported) == (7, 4)
    assert report.skipped == {
        "question_deleted: the authors deleted the question": 1,
        "video_id: no video file of that name under the media root": 1,
        "templ_values: fewer values than the question's placeholders": 1,
    }
    by_id = {r["id"]: r for r in rows}
    assert by_id["music_avqa-20"] == {
        "id": "music_avqa-20",
        "task": "music_avqa",
        "category": ["Audio", "Counting"],
        "video": str(media / "00000272.mp4"),  # no manifest file, no folder to be relative to: absolute
        "question": "How many musical instruments were heard throughout the video?",
        "answer": "two",
        "meta": {"video_id": "00000272", "question_id": 20, "template": "How many musical instruments were heard throughout the video?"},
    }
    assert by_id["music_avqa-21"]["question"] == "Where is the first sounding instrument?"
    assert by_id["music_avqa-22"]["video"] == str(media / "00000351.mkv")
    assert by_id["music_avqa-23"]["question"] == "Is the cello on the left of the piano?"
    assert by_id["music_avqa-23"]["category"] == ["Visual", "Comparative"]


def test_placeholders_fill_in_order() -> None:
    assert fill_placeholders("Is the <Object1> left of the <Object2>?", ["cello", "piano"]) == "Is the cello left of the piano?"
    assert fill_placeholders("How many <Object>?", ["drums", "extra"]) == "How many drums?"
    assert fill_placeholders("Is <Object> <TH>?", ["it"]) is None


def test_avsd_last_turn_with_history(media: Path) -> None:
    rows, report = import_dataset("avsd", DATA / "avsd_dialogs.json", media)
    assert (report.read, report.imported) == (3, 1)
    assert report.skipped == {"answer undisclosed or empty": 1, "image_id: no video file of that name under the media root": 1}
    [row] = rows
    assert row["id"] == "avsd-QRX1A-3"
    assert row["question"] == "what does he take out of the fridge?"
    assert row["answer"] == "he takes out a bottle of juice."
    assert row["references"] == ["he takes out a bottle of juice."]
    assert row["history"] == [
        {"question": "how many people are in the video?", "answer": "there is only one man in the video."},
        {"question": "does he say anything?", "answer": "no, he does not speak at all."},
    ]
    assert row["meta"]["caption"] == "A person opens a refrigerator and takes out a drink."


def test_avsd_all_turns(media: Path) -> None:
    rows, report = import_dataset("avsd", DATA / "avsd_dialogs.json", media, all_turns=True)
    assert (report.read, report.imported) == (6, 4)
    assert [r["id"] for r in rows] == ["avsd-QRX1A-1", "avsd-QRX1A-2", "avsd-QRX1A-3", "avsd-B7Y2K-1"]
    assert [len(r.get("history", [])) for r in rows] == [0, 1, 2, 0]


def test_avsd_multi_reference_test_file(media: Path) -> None:
    [row], report = import_dataset("avsd", DATA / "avsd_multiref.json", media)
    assert report.imported == 1
    assert len(row["references"]) == 6
    assert row["answer"] == row["references"][0] == "he takes out a bottle of juice."


def test_authors_records_with_a_task_need_an_answer(media: Path, tmp_path: Path) -> None:
    _, report = import_dataset("authors", DATA / "authors", media, task="avsd")
    assert report.imported == 0
    assert report.skipped["no task or answer (give --task for records with an answer, or --join MANIFEST)"] == 2
    record = json.loads((DATA / "authors" / "QRX1A.json").read_text()) | {"answer": "a bottle of juice"}
    (tmp_path / "one.json").write_text(json.dumps(record))
    [row], _ = import_dataset("authors", tmp_path / "one.json", media, task="avsd")
    assert row["video"] == str(media / "QRX1A.mp4")  # found by file name: the record's path is the authors' machine's
    assert row["reasoning"]["steps"][0] == {"step": "Find the moment the man opens the refrigerator.", "answer": ""}
    assert len(row["reasoning"]["steps"]) == 3


def test_authors_records_join_an_existing_manifest(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "with_reasoning.jsonl"
    joined = media / "manifest.jsonl"  # its paths are relative to its own folder, as every manifest's
    joined.write_text((DATA / "join_manifest.jsonl").read_text())
    report = import_to_manifest("authors", DATA / "authors", out, media, join=joined)
    assert (report.read, report.imported) == (3, 2)
    assert report.skipped == {"video_path: not found under the media root": 1}
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["avsd-QRX1A-3"]["reasoning"]["steps"][2]["step"] == "Listen for the sound of liquid being poured."
    assert rows["meme-B7Y2K"]["reasoning"]["steps"] == [
        {"step": "Watch her face while she looks at the phone.", "answer": ""},
        {"step": "Listen to what plays from the phone's speaker.", "answer": ""},
    ]
    assert rows["meme-B7Y2K"]["choices"] == ["A cat video", "Bad news", "A phone call from the bank"]
    assert rows["meme-B7Y2K"]["video"] == "media/B7Y2K.mp4"  # under the manifest's folder: relative to it
    assert validate_manifest(out).problems == []


def test_reasoning_shapes() -> None:
    assert to_reasoning("Step 1: look\nStep 2: listen", "1. red\n2. loud", "red")["steps"] == [
        {"step": "look", "answer": "red"},
        {"step": "listen", "answer": "loud"},
    ]
    assert to_reasoning([{"step": "a", "answer": "b"}])["steps"] == [{"step": "a", "answer": "b"}]
    assert to_reasoning("   ") is None
    assert to_reasoning(None) is None


def test_csv_with_a_column_mapping(media: Path, tmp_path: Path) -> None:
    mapping = parse_mapping(["id=qid", "video=clip", "question=q", "choices=opt_a,opt_b,opt_c,opt_d", "answer=gold", "category=kind"])
    out = tmp_path / "geo.jsonl"
    report = import_to_manifest("csv", DATA / "table.csv", out, media, task="av_geoiq", mapping=mapping)
    assert (report.read, report.imported) == (3, 2)
    [reason] = report.skipped
    assert reason.startswith("answer: 'Paris' is not among the choices")
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[0] == {
        "id": "geo-1",
        "task": "av_geoiq",
        "category": ["flags", "markets"],
        "video": "media/QRX1A.mp4",  # the table's path is under the media root; the manifest's, under its folder
        "question": "Which country is this market in?",
        "choices": ["Japan", "Morocco", "Peru", "Norway"],
        "answer": "Morocco",
    }
    assert rows[1]["choices"] == ["French", "Hindi"] and rows[1]["answer"] == "B"
    assert validate_manifest(out).problems == []


def test_jsonl_with_a_column_mapping(media: Path) -> None:
    mapping = parse_mapping(["id=qid", "video=clip", "question=prompt", "references=refs"])
    rows, report = import_dataset("jsonl", DATA / "table.jsonl", media, mapping=mapping)
    assert (report.read, report.imported) == (4, 2)
    assert report.skipped["question: missing (required)"] == 1
    assert any(r.startswith("bad JSON") for r in report.skipped)
    assert rows[0]["id"] == "1" and rows[0]["answer"] == "a man takes juice from a fridge"
    assert rows[1]["references"] == ["a woman laughs at her phone", "a woman on a couch laughing"]


@pytest.mark.parametrize(
    ("fmt", "source", "kwargs", "message"),
    [
        ("kinect", "music_avqa_test.json", {}, "unknown format 'kinect'"),
        ("music-avqa", "nope.json", {}, "source not found"),
        ("music-avqa", "avsd_dialogs.json", {}, "JSON list of questions"),
        ("avsd", "music_avqa_test.json", {}, '{"dialogs": [...]}'),
        ("music-avqa", "table.csv", {}, "bad JSON"),
        ("csv", "table.csv", {"task": "karaoke"}, "unknown task 'karaoke'"),
    ],
)
def test_bad_sources_are_typed_errors(media: Path, fmt: str, source: str, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError) as err:
        import_dataset(fmt, DATA / source, media, **kwargs)
    assert message in str(err.value)


def test_bad_mappings_and_media_roots(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="FIELD=COLUMN"):
        parse_mapping(["question"])
    with pytest.raises(InputError, match="unknown manifest field 'colour'"):
        parse_mapping(["colour=c"])
    with pytest.raises(InputError, match="media root is not a folder"):
        import_dataset("avsd", DATA / "avsd_dialogs.json", tmp_path / "absent")


def test_report_summary(media: Path) -> None:
    _, report = import_dataset("music-avqa", DATA / "music_avqa_test.json", media)
    assert report.summary().startswith("read 7, imported 4, skipped 3 (")
    assert report.to_dict()["skipped"]["question_deleted: the authors deleted the question"] == 1
