"""`bench report` with hostile text from the run: a target named like a TeX command (matplotlib's
mathtext would fail on it), categories with ``|`` and line breaks (markdown tables would split);
a plot that fails costs only itself (report.md and report.json are written first); and every file
a run rewrites is replaced whole: a process killed in the middle of writing run.json leaves the
old one, and the resume goes on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import aurelia.bench.plots as plots_mod
from aurelia.bench import run_benchmark, write_report
from aurelia.errors import InputError
from aurelia.testing.chat import TimedFakeChat, agent_models

TEX_NAME = r"$\undefinedcmd{x}$"
CATEGORY = "colour | order\nsecond line"


def make_run(tmp: Path, clip: Path, n: int = 2, **kwargs) -> Path:
    lines = [
        {"id": f"s{i}", "task": "av_compositional", "category": [CATEGORY], "video": str(clip), "question": f"Last colour? ({i})", "choices": ["red", "blue", "green"], "answer": "green"}
        for i in range(n)
    ]  # fmt: skip
    manifest = tmp / "manifest.jsonl"
    manifest.write_text("\n".join(map(json.dumps, lines)) + "\n")
    run = tmp / "run"
    run_benchmark(manifest, {TEX_NAME: TimedFakeChat(responses=["C"])}, run, models=agent_models(), cache=tmp / "c.sqlite", **kwargs)
    return run


def cells(row: str) -> list[str]:
    """A markdown table row's cells (a ``\\|`` stays inside its cell)."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_hostile_names_reach_the_report_and_its_plots_as_text(tmp_path, clip):
    run = make_run(tmp_path, clip)
    written = write_report(run)
    assert written["notes"] == [] and {p.name for p in written["plots"]} >= {"table1.png", "iterations.png"}
    md = (run / "report.md").read_text()
    blocks: list[list[str]] = [[]]
    for line in md.splitlines():  # consecutive lines that start with "|" make one table
        if line.startswith("|"):
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    tables = [b for b in blocks if b]
    assert tables and all(len(cells(row)) == len(cells(t[0])) for t in tables for row in t)  # no row split or widened
    rows = [cells(row) for t in tables for row in t]
    assert [r[0].strip() for r in rows if "colour" in r[0]] == [r"colour \| order second line"]
    assert f"`{TEX_NAME}`" in md and "\nsecond line" not in md


def test_a_plot_that_fails_leaves_the_report_written(tmp_path, clip, monkeypatch):
    run = make_run(tmp_path, clip)

    def broken(report, path):
        raise RuntimeError("the renderer broke")

    monkeypatch.setattr(plots_mod, "table1_bars", broken)
    written = write_report(run)
    assert written["notes"] == ["plot table1.png not drawn (RuntimeError: the renderer broke)"]
    md = (run / "report.md").read_text()
    assert "## Table 1" in md and "(iterations.png)" in md and "table1.png" not in md
    assert json.loads((run / "report.json").read_text())["targets"] == [TEX_NAME]


def test_a_kill_while_run_json_is_written_keeps_the_old_one_and_the_resume_works(tmp_path, clip):
    run = make_run(tmp_path, clip, n=1)
    before = (run / "run.json").read_bytes()
    # a process killed after writing the new run.json's bytes, before they replace the old file
    code = (
        "import os, signal, sys\n"
        "import aurelia.files\n"
        "from aurelia.bench.store import read_run_json, write_run_json\n"
        "old = read_run_json(sys.argv[1])\n"
        "aurelia.files.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
        "write_run_json(sys.argv[1], old['settings'] | {'limit': 99}, {}, 'running')\n"
    )
    killed = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert (run / "run.json").read_bytes() == before
    assert [p.name for p in run.iterdir() if p.name.startswith(".run.json.")]  # the cut-off write, left aside
    resumed = make_run(tmp_path, clip, n=2)  # one more sample: the resume reads run.json and goes on
    data = json.loads((resumed / "run.json").read_text())
    assert data["status"] == "finished" and data["invocations"] == 2 and data["counts"]["samples_done"] == 1
    assert len((resumed / "results.jsonl").read_text().splitlines()) == 4


def test_an_error_while_the_report_is_written_keeps_the_old_report(tmp_path, clip, monkeypatch):
    run = make_run(tmp_path, clip, n=1)
    write_report(run)
    before = {name: (run / name).read_bytes() for name in ("report.md", "report.json", "table1.png")}
    real_replace = os.replace

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("aurelia.files.os.replace", full_disk)
    with pytest.raises(InputError, match=r"report\.json: cannot write the report \(No space left on device\)"):
        write_report(run)
    monkeypatch.setattr("aurelia.files.os.replace", real_replace)
    assert {name: (run / name).read_bytes() for name in before} == before
    assert not [p for p in run.iterdir() if p.name.startswith(".report.")]  # no temporary file left behind
