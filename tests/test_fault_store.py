"""Disk and store faults for what exists today: the thread store of ``aurelia run --thread`` on a
read-only and on a full file system (tmpfs mounts in a private mount namespace, made by
tests/store_faults_worker.py; skipped where ``unshare -m`` is not allowed), a store locked by
another connection, and output files on a full device (/dev/full). Each failure is one line on
stderr, never a traceback, and nothing the store already held is lost."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aurelia.cli import app
from aurelia.durable import run_thread
from aurelia.testing.crash import ScriptedAgents, child_env, comparable, integrity, scripted_models

WORKER = Path(__file__).with_name("store_faults_worker.py")
SETTINGS = {"max_iterations": 3, "threshold": 9}


def one_line(outcome: dict) -> str:
    """The stderr of a failed command, checked to be one 'error: …' line and no traceback."""
    assert outcome["code"] != 0 and outcome["escaped"] is None, outcome
    lines = outcome["stderr"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in outcome["stderr"], outcome
    return lines[0]


def typed(outcome: dict, store: Path) -> None:
    line = one_line(outcome)
    assert str(store) in line and "unexpected" not in line, line


@pytest.fixture(scope="module")
def disk(clip, tmp_path_factory) -> dict:
    """What the worker saw, with the mount root; skipped where mount namespaces are not allowed."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare and mount (util-linux)")
    root = tmp_path_factory.mktemp("mnt")
    proc = subprocess.run(
        ["unshare", "-m", "--", sys.executable, str(WORKER), str(root), str(clip)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and proc.stderr.startswith("unshare"):
        pytest.skip(f"no private mount namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    if "skip" in report:
        pytest.skip(report["skip"])
    return report | {"root": root}


def test_a_read_only_file_system_fails_in_one_line_and_loses_nothing(disk):
    assert disk["ro_first"]["code"] == 0, disk["ro_first"]
    for name in ("ro_resume", "ro_new_thread", "ro_new_db"):
        one_line(disk[name])
    # back on a writable file system the finished thread is there, whole
    after = disk["ro_after"]
    assert after["code"] == 0 and after["integrity"] == "ok" and after["checkpointed"] == [3], after
    assert comparable(json.loads(after["stdout"])) == comparable(json.loads(disk["ro_first"]["stdout"]))


def test_a_full_file_system_fails_in_one_line_keeps_the_store_and_the_run_resumes(disk):
    full = disk["full_run"]
    one_line(full)
    assert full["integrity"] == "ok" and full["checkpointed"], full  # what was stored before the disk filled is there
    media = disk["full_media"]
    assert (media["code"], media["stderr"]) == (2, f"error: {disk['root']}/full/frames: cannot write output (No space left on device)\n")
    # room made: the same thread resumes and ends as a run that never met a full disk
    resumed = disk["full_resume"]
    assert resumed["code"] == 0 and resumed["integrity"] == "ok" and resumed["checkpointed"] == [3], resumed
    assert json.loads(resumed["stdout"])["thread"]["resumed_from"] == "interrupted"
    assert comparable(json.loads(resumed["stdout"])) == comparable(json.loads(disk["calm"]["stdout"]))


def test_store_faults_are_typed_errors_naming_the_store(disk):
    ro = disk["root"] / "ro"
    typed(disk["ro_new_thread"], ro / "threads.sqlite")
    typed(disk["ro_new_db"], ro / "sub" / "threads.sqlite")
    typed(disk["full_run"], disk["root"] / "full" / "threads.sqlite")


@pytest.fixture(scope="module")
def locked(clip, tmp_path_factory):
    """A store holding a finished thread, locked by another connection's exclusive transaction,
    and what a new run on it did (it waits out SQLite's busy timeout, 5 s, once for the module)."""
    db = tmp_path_factory.mktemp("locked") / "threads.sqlite"
    done = run_thread(clip, "What colour?", choices=["red", "green"], settings=SETTINGS, thread_id="t1", db=db, models=scripted_models())
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with ScriptedAgents() as agents:
        run = ["run", str(clip), "-q", "What colour?", *agents.role_options(), "--thread", "t2", "--db", str(db), "--json", "--quiet"]
        yield db, done, agents, CliRunner().invoke(app, run)
    holder.close()


def test_a_locked_store_refuses_a_new_run_before_any_model_call_and_loses_nothing(locked):
    db, done, agents, result = locked
    one_line(
        {
            "code": result.exit_code,
            "stderr": result.stderr,
            "escaped": None if isinstance(result.exception, SystemExit) else result.exception,
        }
    )
    assert agents.requests == []  # nothing paid for
    # a reader is not blocked: the finished thread answers from the store, whole
    stored = CliRunner().invoke(app, ["resume", "t1", "--db", str(db), "--json", "--quiet"])
    assert stored.exit_code == 0 and comparable(json.loads(stored.stdout)) == comparable(done)


def test_a_locked_store_is_a_typed_error_naming_it(locked):
    db, _, _, result = locked
    typed({"code": result.exit_code, "stderr": result.stderr, "escaped": None}, db)


def test_the_store_is_intact_once_the_lock_is_gone(clip, tmp_path):
    db = tmp_path / "threads.sqlite"
    done = run_thread(clip, "What colour?", choices=["red", "green"], settings=SETTINGS, thread_id="t1", db=db, models=scripted_models())
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO aurelia_threads VALUES ('ghost', 0, '{}')")  # never committed
    holder.close()  # the holder goes away without committing: its write is rolled back
    assert integrity(db) == "ok"
    assert sqlite3.connect(db).execute("SELECT thread_id FROM aurelia_threads").fetchall() == [("t1",)]
    again = run_thread(None, None, thread_id="t1", db=db, models=scripted_models())
    assert again["thread"]["resumed_from"] == "done" and comparable(again) == comparable(done)


def test_output_files_on_a_full_device_are_one_line_errors(tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    (tmp_path / "v.mp4").write_bytes(b"\x00video")
    source = tmp_path / "table.jsonl"
    source.write_text(json.dumps({"id": "a", "video": "v.mp4", "question": "How many?", "answer": "two"}) + "\n")
    result = CliRunner().invoke(
        app, ["bench", "import", "jsonl", str(source), "--media-root", str(tmp_path), "-o", "/dev/full", "--task", "music_avqa"]
    )
    assert (result.exit_code, result.stderr) == (2, "error: /dev/full: cannot write (No space left on device)\n")
