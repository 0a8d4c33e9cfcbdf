"""Store and disk faults of ``aurelia bench run``: a second runner on the same run folder, an
outside SQLite connection holding an EXCLUSIVE lock on store.sqlite, a damaged results.jsonl.
Each gives one line and an exit code (no traceback), loses nothing, and the store stays the
source of truth: ``aurelia bench export RUN --rebuild-jsonl`` rewrites the export from it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import aurelia.bench.db as db_mod
from aurelia.bench import rebuild_results
from aurelia.cli import app
from aurelia.testing.faults import FaultServer

HERE = Path(__file__).parent
runner = CliRunner()
REPLIES = {
    "gen": '{"steps": [{"step": "Watch the end", "answer": "green"}], "final_answer": "green"}',
    "sum": "Red, then green.",
    "eval": '{"score": 8, "rationale": "ok"}',
    "tgt": "C",
}


def write_manifest(folder: Path, clip: Path, n: int) -> Path:
    import json

    lines = [
        {"id": f"s{i}", "task": "av_compositional", "video": str(clip), "question": f"Last colour? ({i})", "choices": ["red", "blue", "green"], "answer": "green"}
        for i in range(n)
    ]  # fmt: skip
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    return path


@pytest.fixture()
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "not-used")
    with FaultServer(replies=REPLIES) as srv:
        yield srv


def run_args(server: FaultServer, manifest: Path, tmp: Path) -> list[str]:
    args = ["bench", "run", str(manifest), "--target", server.url("tgt"), "--out", str(tmp / "run"), "--cache", str(tmp / "c.sqlite")]
    args += ["--generator", server.url("gen"), "--summarizer", server.url("sum"), "--evaluator", server.url("eval"), "--quiet"]
    return args


def one_line_error(result, code: int, needle: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output
    assert "Traceback" not in result.output


def stored(run: Path) -> list[tuple]:
    with sqlite3.connect(run / "store.sqlite") as db:
        return db.execute("SELECT id, target, inject, status FROM results ORDER BY id, target, inject").fetchall()


def test_an_exclusive_lock_on_the_store_is_one_line_and_loses_nothing(tmp_path, clip, server, monkeypatch) -> None:
    args = run_args(server, write_manifest(tmp_path, clip, 4), tmp_path)
    assert runner.invoke(app, [*args, "--limit", "2"]).exit_code == 0
    before = stored(tmp_path / "run")
    monkeypatch.setattr(db_mod, "BUSY_TIMEOUT_S", 0.2)  # fail fast instead of waiting 30 s for the lock
    holder = sqlite3.connect(tmp_path / "run" / "store.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        locked = runner.invoke(app, args)
    finally:
        holder.rollback()
        holder.close()
    one_line_error(locked, 1, "cannot write the results store (database is locked)")  # a StoreError
    assert stored(tmp_path / "run") == before
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "2 done, 2 skipped" in again.output, again.output
    assert len(stored(tmp_path / "run")) == 8


def test_a_second_runner_on_the_same_run_folder_is_refused(tmp_path, clip, server) -> None:
    manifest, run, cache = write_manifest(tmp_path, clip, 6), tmp_path / "run", tmp_path / "c.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    first = subprocess.Popen([sys.executable, str(HERE / "bench_worker.py"), str(manifest), str(run), str(cache), "0.3"], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (run / "run.json").exists():  # written once the store and its lock are held
            assert first.poll() is None and time.monotonic() < deadline, "the first runner ended early"
            time.sleep(0.05)
        second = runner.invoke(app, run_args(server, manifest, tmp_path))
        assert first.poll() is None, "the first runner ended before the second one started"
    finally:
        first.kill()
        first.wait()
    one_line_error(second, 2, f"{run}: another `aurelia bench run` (pid {first.pid}) is using this run folder")
    assert server.seen == []  # refused before any call


def test_a_damaged_export_is_rebuilt_from_the_store(tmp_path, clip, server) -> None:
    args = run_args(server, write_manifest(tmp_path, clip, 3), tmp_path)
    assert runner.invoke(app, args).exit_code == 0
    export = tmp_path / "run" / "results.jsonl"
    good = export.read_text()
    lines = good.splitlines()
    export.write_text("\n".join([lines[0], lines[1][: len(lines[1]) // 2], *lines[2:]]) + "\n")  # a torn line
    rebuilt = runner.invoke(app, ["bench", "export", str(tmp_path / "run"), "--rebuild-jsonl"])
    assert rebuilt.exit_code == 0 and "6 records rebuilt from store.sqlite" in rebuilt.output, rebuilt.output
    assert export.read_text() == good
    export.unlink()
    assert rebuild_results(tmp_path / "run") == (export, 6) and export.read_text() == good
    report = runner.invoke(app, ["bench", "report", str(tmp_path / "run")])  # reads the store, not the export
    export.write_text("{not json\n")
    again = runner.invoke(app, args)  # a resume rewrites the export too
    assert report.exit_code == 0 and again.exit_code == 0 and export.read_text() == good


def test_rebuild_needs_a_run_folder_and_export_needs_an_output(tmp_path) -> None:
    one_line_error(runner.invoke(app, ["bench", "export", str(tmp_path), "--rebuild-jsonl"]), 2, "no store.sqlite in it")
    one_line_error(runner.invoke(app, ["bench", "export", str(tmp_path)]), 2, "give --output FILE (or --rebuild-jsonl)")


def test_a_damaged_store_is_one_line_naming_it(tmp_path, clip, server) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "store.sqlite").write_bytes(b"this is not a database, " * 200)
    damaged = runner.invoke(app, run_args(server, write_manifest(tmp_path, clip, 1), tmp_path))
    one_line_error(damaged, 1, f"{run / 'store.sqlite'}: cannot open the results store (file is not a database)")
    one_line_error(runner.invoke(app, ["bench", "export", str(run), "--rebuild-jsonl"]), 1, "file is not a database")
    assert server.seen == []


@pytest.mark.parametrize("column", ["results.record", "samples.trajectory", "samples.sample", "meta.value"])
def test_a_tampered_store_row_is_one_line_naming_the_file(tmp_path, clip, server, column) -> None:
    args = run_args(server, write_manifest(tmp_path, clip, 1), tmp_path)
    assert runner.invoke(app, args).exit_code == 0
    table, field = column.split(".")
    with sqlite3.connect(tmp_path / "run" / "store.sqlite") as db:
        db.execute(f"UPDATE {table} SET {field} = '{{\"torn\": '")  # an edited row: JSON cut short
    # the report reads every row; the run's settings (meta) are read when a run resumes
    again = runner.invoke(app, args if table == "meta" else ["bench", "report", str(tmp_path / "run")])
    one_line_error(again, 1, f"{tmp_path / 'run' / 'store.sqlite'}: a stored ")
    assert "is not valid JSON" in again.output


def test_a_malformed_page_of_the_cache_is_one_line_naming_it(tmp_path, clip, server) -> None:
    args = run_args(server, write_manifest(tmp_path, clip, 1), tmp_path)
    assert runner.invoke(app, args).exit_code == 0
    cache = tmp_path / "c.sqlite"
    with sqlite3.connect(cache) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(cache.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page's schema, overwritten
    cache.write_bytes(bytes(data))
    damaged = runner.invoke(app, [*args, "--out", str(tmp_path / "run2")])
    one_line_error(damaged, 1, f"{cache}: cannot open the reasoning cache (")
