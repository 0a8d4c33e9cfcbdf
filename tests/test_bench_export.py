"""``aurelia bench export``: r* as a fine-tuning set and as the authors' records, which part 1's
``authors`` importer reads back, so that a run can use imported r* with no agent call."""

from __future__ import annotations

import json

from test_bench_report import run  # noqa: F401 - the hand-written run
from test_bench_runner import write_manifest
from typer.testing import CliRunner

from aurelia.bench import import_to_manifest, run_benchmark
from aurelia.bench.export import export_reasoning
from aurelia.cli import app
from aurelia.testing.chat import TimedFakeChat, agent_models, calls_of

REASONING = {"steps": [{"step": "Watch the last seconds", "answer": "green"}], "final_answer": "green"}


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_sft_examples(run, tmp_path):  # noqa: F811
    result = CliRunner().invoke(app, ["bench", "export", str(run), "--format", "sft", "-o", str(tmp_path / "sft.jsonl")])
    assert result.exit_code == 0 and "wrote 4, skipped 0" in result.output
    first = lines(tmp_path / "sft.jsonl")[0]
    system, user, assistant = first["messages"]
    assert (system["role"], user["role"], assistant["role"]) == ("system", "user", "assistant")
    # absolute, whatever the working folder: this hand-written run records no media root, so its folder stands in
    assert user["content"][0] == {"type": "video", "path": str(run / "clip.mp4")}
    assert "Which colour is last?" in user["content"][-1]["text"] and "(B) green" in user["content"][-1]["text"]
    assert "s0 look 2" in assistant["content"] and assistant["content"].endswith("Answer: (B) green")  # r* of s0 is iteration 2


def test_correct_only_keeps_the_samples_whose_r_star_is_right(run, tmp_path):  # noqa: F811
    report = export_reasoning(run, tmp_path / "sft.jsonl", "sft", correct_only=True)
    assert report.written == 2 and report.skipped == {"r*'s own answer is wrong (--correct-only)": 2}
    assert [x["id"] for x in lines(tmp_path / "sft.jsonl")] == ["s0", "s2"]


def test_authors_records_round_trip_through_the_importer(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 2)
    models = agent_models(reasonings=(json.dumps(REASONING),))
    run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", models=models, cache=tmp_path / "c.sqlite")
    report = export_reasoning(tmp_path / "run", tmp_path / "authors.jsonl", "authors")
    assert report.written == 2
    record = lines(tmp_path / "authors.jsonl")[0]
    assert record["reasoning_steps"] == ["Watch the last seconds"] and record["reasoning_answer"] == ["green"]
    imported = import_to_manifest("authors", tmp_path / "authors.jsonl", tmp_path / "joined.jsonl", clip.parent, join=manifest)
    assert imported.imported == 2
    assert all(x["reasoning"] == REASONING for x in lines(tmp_path / "joined.jsonl"))
    fresh = agent_models()
    again = run_benchmark(
        tmp_path / "joined.jsonl", {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run2", models=fresh, cache=tmp_path / "c2.sqlite",
        reasoning="imported", media_root=clip.parent,
    )  # fmt: skip
    assert calls_of(fresh) == 0 and again.counts.samples_done == 2


def test_an_unknown_format_is_one_line(run, tmp_path):  # noqa: F811
    result = CliRunner().invoke(app, ["bench", "export", str(run), "--format", "csv", "-o", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2 and "--format must be one of sft, authors" in result.output


def test_exports_name_media_by_absolute_paths_from_any_folder(tmp_path, clip, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "clip.mp4").symlink_to(clip)
    line = {"id": "s0", "task": "av_compositional", "video": "clip.mp4", "question": "Which colour is last?", "choices": ["red", "blue", "green"], "answer": "green"}  # fmt: skip
    (data / "m.jsonl").write_text(json.dumps(line) + "\n")
    monkeypatch.chdir(data)  # the run names the manifest relative to where it is started
    run_benchmark("m.jsonl", {"t": TimedFakeChat(responses=["C"])}, "run", models=agent_models(), cache=tmp_path / "c.sqlite")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    export_reasoning(data / "run", "authors.jsonl", "authors")
    export_reasoning(data / "run", "sft.jsonl", "sft")
    assert lines(elsewhere / "authors.jsonl")[0]["video_path"] == str(data / "clip.mp4")
    assert lines(elsewhere / "sft.jsonl")[0]["messages"][1]["content"][0] == {"type": "video", "path": str(data / "clip.mp4")}
