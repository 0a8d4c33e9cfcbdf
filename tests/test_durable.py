"""Durable runs: a run killed mid-loop (SIGKILL, in a real subprocess) resumes from its last
finished node without repeating finished agent calls; review pauses; CLI errors."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import REASONING_JSON, fake
from typer.testing import CliRunner

from aurelia.cli import app
from aurelia.durable import run_thread
from aurelia.errors import InputError
from aurelia.nodes.review import apply_decision
from aurelia.run import run

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("durable_worker.py")


def _worker(db: Path, log: Path, clip: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), "job-1", str(log), str(clip), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(log: Path, line: str, count: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().splitlines().count(line) >= count:
            return
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {line!r} x{count}")


def test_killed_run_resumes_without_repeating_finished_calls(tmp_path, clip):
    db, log = tmp_path / "threads.sqlite", tmp_path / "calls.log"
    proc = _worker(db, log, clip, "--hang")
    _wait_for(log, "generator start", 2, proc)  # iteration 1 finished; iteration 2 is generating
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed = log.read_text().splitlines()
    assert killed.count("generator done") == 1 and killed.count("evaluator done") == 1

    done = _worker(db, log, clip)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err[-2000:]
    result = json.loads(out.strip().splitlines()[-1])
    lines = log.read_text().splitlines()
    # iteration 1 ran once; only the unfinished generator call of iteration 2 was repeated
    assert lines.count("generator start") == 3 and lines.count("generator done") == 2
    assert lines.count("summarizer start") == 2 and lines.count("evaluator start") == 2
    assert lines.count("target start") == 1
    assert result["thread"] == {"id": "job-1", "status": "done", "resumed_from": "interrupted"}
    assert [it["iteration"] for it in result["iterations"]] == [1, 2]
    assert [(c["role"], c["iteration"]) for c in result["calls"]] == [
        ("generator", 1),
        ("summarizer", 1),
        ("evaluator", 1),
        ("generator", 2),
        ("summarizer", 2),
        ("evaluator", 2),
        ("target", 2),
    ]
    assert result["answer"] == "green" and result["stop_reason"] == "max_iterations"

    # a finished thread returns its stored result without calling any model
    again = _worker(db, log, clip)
    out, _ = again.communicate(timeout=120)
    stored = json.loads(out.strip().splitlines()[-1])
    assert stored["thread"]["resumed_from"] == "done"
    assert stored["answer"] == result["answer"] and not {"draft_caption", "draft_reasoning", "review_requested"} & set(stored)
    assert log.read_text().splitlines() == lines

    blob = b"".join(bytes(r[0]) for r in sqlite3.connect(db).execute("SELECT checkpoint FROM checkpoints"))
    assert b"base64" not in blob and len(blob) < 200_000


def _models():
    return {
        "generator": fake(REASONING_JSON),
        "summarizer": fake("Green and silent at the end."),
        "evaluator": fake('{"score": 7, "rationale": "matches"}'),
        "target": fake("C"),
    }


def test_review_pause_then_approve(tmp_path, clip):
    db = tmp_path / "t.sqlite"
    kw = {"thread_id": "r1", "db": db, "models": _models()}
    paused = run_thread(clip, "What colour at the end?", choices=["red", "blue", "green"], settings={"review": True}, **kw)
    assert paused["thread"]["status"] == "review" and "answer" not in paused
    request = paused["interrupt"]
    assert request["reasoning_star"]["final_answer"] == "green" and request["trajectory"][0]["score"] == 7
    still = run_thread(None, None, **kw)  # no decision: the request again, nothing runs
    assert still["interrupt"] == request
    with pytest.raises(InputError, match="unrecognised review decision"):
        run_thread(None, None, decision={"action": "maybe"}, **kw)
    with pytest.raises(InputError, match="invalid at steps"):
        run_thread(None, None, decision={"action": "edit", "reasoning": {"steps": [], "final_answer": "x"}}, **kw)
    done = run_thread(None, None, decision="approve", **kw)
    assert done["review"] == {"action": "approved"} and done["answer"] == "green"
    with pytest.raises(InputError, match="not waiting for a review"):
        run_thread(None, None, decision="approve", **kw)


def test_thread_refuses_other_input_and_settings(tmp_path, clip, silent_clip):
    kw = {"thread_id": "x", "db": tmp_path / "t.sqlite", "models": _models()}
    run_thread(clip, "What colour?", settings={"max_iterations": 1}, **kw)
    with pytest.raises(InputError, match="use a new --thread"):
        run_thread(silent_clip, "What colour?", **kw)
    with pytest.raises(InputError, match="max_iterations=1"):
        run_thread(clip, "What colour?", settings={"max_iterations": 3}, **kw)
    with pytest.raises(InputError, match="another choices"):
        run_thread(clip, "What colour?", choices=["red", "green"], **kw)
    with pytest.raises(InputError, match="reasoning_only=False"):
        run_thread(clip, "What colour?", reasoning_only=True, **kw)
    assert run_thread(clip, "What colour?", **kw)["thread"]["resumed_from"] == "done"  # the same input again is fine
    with pytest.raises(InputError, match="does not exist yet"):
        run_thread(None, None, thread_id="nope", db=kw["db"])
    with pytest.raises(InputError, match="reasoning-only run injects nothing"):
        run_thread(clip, "What colour?", thread_id="ro", db=kw["db"], settings={"review": True}, reasoning_only=True)


def test_cli_thread_errors_exit_2(tmp_path, clip):
    runner = CliRunner()
    res = runner.invoke(app, ["run", str(clip), "-q", "What colour?", "--review"])
    assert res.exit_code == 2 and "--thread" in res.output
    res = runner.invoke(app, ["resume", "missing", "--db", str(tmp_path / "t.sqlite")])
    assert res.exit_code == 2 and "does not exist yet" in res.output
    res = runner.invoke(app, ["resume", "missing", "--approve", "--edit", str(tmp_path / "r.txt"), "--db", str(tmp_path / "t.sqlite")])
    assert res.exit_code == 2 and "not both" in res.output
    res = runner.invoke(app, ["resume", "missing", "--edit", str(tmp_path / "none.txt"), "--db", str(tmp_path / "t.sqlite")])
    assert res.exit_code == 2 and "none.txt" in res.output


def test_checkpoint_bytes_do_not_grow_with_video_size(tmp_path):
    spec = importlib.util.spec_from_file_location("checkpoint_size", ROOT / "benchmarks" / "checkpoint_size.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    small, large = bench.measure([2, 16], tmp_path)
    assert large["video_bytes"] > 4 * small["video_bytes"]
    assert large["mean_bytes"] < 1.15 * small["mean_bytes"] and large["max_bytes"] < 20_000
    assert small["leaks"] == large["leaks"] == []
    assert small["checkpoints"] == large["checkpoints"]


def test_cli_resume_shows_review_request_then_stored_result(tmp_path, clip):
    db = tmp_path / "t.sqlite"
    kw = {"thread_id": "cli-1", "db": db, "models": _models()}
    run_thread(clip, "What colour at the end?", choices=["red", "blue", "green"], settings={"review": True}, **kw)
    runner = CliRunner()
    paused = runner.invoke(app, ["resume", "cli-1", "--db", str(db)])  # no decision: shows the request, runs nothing
    assert paused.exit_code == 0, paused.output
    assert "paused for review (thread cli-1)" in paused.output and "aurelia resume cli-1 --approve" in paused.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": []}')
    refused = runner.invoke(app, ["resume", "cli-1", "--edit", str(bad), "--db", str(db)])
    assert refused.exit_code == 2 and "edited reasoning is invalid" in refused.output
    run_thread(None, None, decision="approve", **kw)
    done = runner.invoke(app, ["resume", "cli-1", "--db", str(db), "--json"])
    assert done.exit_code == 0
    result = json.loads(done.output)
    assert result["thread"] == {"id": "cli-1", "status": "done", "resumed_from": "done"} and result["answer"] == "green"


def test_one_shot_run_refuses_review(clip):
    with pytest.raises(InputError, match="--thread"):
        run(clip, "Colour?", models=_models(), context={"review": True})


def test_review_decisions():
    star = {"steps": [{"step": "a", "answer": "b"}], "final_answer": "c"}
    assert apply_decision("approve", star) == (star, "approved")
    assert apply_decision(True, star) == (star, "approved")
    assert apply_decision({"action": "approve"}, star) == (star, "approved")
    edited, action = apply_decision("1. Look at 6.0 s\n- 6 seconds in it is green\n", star)
    assert action == "edited" and [s["step"] for s in edited["steps"]] == ["Look at 6.0 s", "6 seconds in it is green"]
    assert apply_decision({"steps": [{"step": "x", "answer": "y"}], "final_answer": "z"}, star)[0]["final_answer"] == "z"
    for bad in ({"action": "edit", "reasoning": {"steps": []}}, "   ", 42, {"action": "reject"}):
        with pytest.raises(InputError):
            apply_decision(bad, star)
