"""The benchmark runner end to end on the embedded model: two samples of the offline sample
benchmark, zero-shot and with r*, through the CLI (run, a resume, report)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aurelia.bench import write_sample_benchmark
from aurelia.cli import app


@pytest.mark.llm
def test_run_and_report_on_the_embedded_model(tmp_path):
    manifest = write_sample_benchmark(tmp_path / "bench")
    run = tmp_path / "run"
    args = ["bench", "run", str(manifest), "--target", "local", "--out", str(run), "--cache", str(tmp_path / "cache.sqlite")]
    args += ["--tasks", "av_compositional", "--limit", "2", "--max-iterations", "1", "--max-tokens", "64", "--target-max-tokens", "8"]
    first = CliRunner().invoke(app, [*args, "--jsonl"])
    assert first.exit_code == 0, first.output
    end = json.loads(first.output.splitlines()[-1])
    assert end["counts"]["samples_done"] == 2 and end["counts"]["agent_calls"] == 2 * 3 and end["counts"]["target_calls"] == 4
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["error"] is None and r["output"] for r in rows)
    assert all(r["correct"] is (r["parsed"] is not None and r["correct"]) for r in rows)  # unparsed is wrong, never a default
    again = CliRunner().invoke(app, [*args, "--quiet"])
    assert "2 skipped" in again.output and "0 agent, 0 target" in again.output
    report = CliRunner().invoke(app, ["bench", "report", str(run)])
    assert report.exit_code == 0, report.output
    table = json.loads((run / "report.json").read_text())["table1"]["tables"]["steps"]["local"]["av_compositional"]
    assert table["zero_shot"] is not None and table["aurelia"] is not None
