"""``aurelia bench``: sample -> validate -> score end to end, import with counts, and bad input as
one line with exit code 2 (never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aurelia.cli import app

DATA = Path(__file__).parent / "data" / "bench"
runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, ["bench", *map(str, args)])


@pytest.fixture(scope="module")
def sample_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    result = invoke("sample", folder)
    assert result.exit_code == 0, result.output
    assert "24 samples, 7 tasks" in result.output
    return folder / "manifest.jsonl"


def test_validate_a_good_manifest(sample_manifest: Path) -> None:
    result = invoke("validate", sample_manifest, "--probe")
    assert result.exit_code == 0, result.output
    assert (
        "24 samples valid (av_captioning 3, av_compositional 4, av_geoiq 3, av_meme 3, avsd 3, dance_music 3, music_avqa 5)"
        in result.output
    )


def test_score_the_sample_benchmark_with_its_own_answers(sample_manifest: Path, tmp_path: Path) -> None:
    rows = [json.loads(x) for x in sample_manifest.read_text().splitlines()]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "output": r["answer"]}) + "\n" for r in rows))
    result = invoke("score", sample_manifest, predictions, "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert len(scores["tasks"]) == 7
    for task in ("music_avqa", "av_compositional", "av_geoiq", "av_meme", "dance_music"):
        assert scores["tasks"][task]["accuracy"] == 1.0, task
    assert scores["tasks"]["avsd"]["Bleu_1"] == pytest.approx(1.0, abs=1e-6)
    assert scores["missing"] == []
    table = invoke("score", sample_manifest, predictions)
    assert table.exit_code == 0
    assert "Accuracy (unparsed answers count as wrong)" in table.output and "CIDEr" in table.output


def test_validate_lists_every_bad_line_then_exits_2(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"id": "a"\n{"id": "b", "task": "avsd"}\n')
    result = invoke("validate", manifest)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{manifest}:1: bad JSON (Expecting ',' delimiter at column 11)"
    assert f"{manifest}:2: video: missing (required)" in lines
    assert lines[-1] == f"error: {manifest}: 2 of 2 lines invalid (0 valid)"


def test_import_prints_the_counts(tmp_path: Path) -> None:
    for name in ("00000272.mp4", "00000351.mkv"):
        (tmp_path / name).write_bytes(b"\x00")
    out = tmp_path / "m.jsonl"
    result = invoke("import", "music-avqa", DATA / "music_avqa_test.json", "--media-root", tmp_path, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{out}: read 7, imported 4, skipped 3 (")
    assert len(out.read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["import", "avsd", "{data}/avsd_dialogs.json", "--media-root", "{tmp}", "-o", "{tmp}/o.jsonl"], "left as it was: read 3"),
        (["import", "csv", "{data}/table.csv", "--media-root", "{tmp}", "-o", "{tmp}/o.jsonl", "--map", "oops"], "FIELD=COLUMN"),
        (["import", "vqa", "{data}/table.csv", "--media-root", "{tmp}", "-o", "{tmp}/o.jsonl"], "unknown format 'vqa'"),
        (["score", "{tmp}/none.jsonl", "{tmp}/p.jsonl"], "manifest not found"),
        (["validate", "{tmp}"], "manifest is a folder"),
        (["sample", "{data}/table.csv"], "cannot write the sample clips"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    result = invoke(*(a.format(data=DATA, tmp=tmp_path) for a in args))
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
