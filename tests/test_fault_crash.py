"""Crash safety of ``aurelia run --thread``: a real CLI process SIGKILLed at random points, resumed
each time, ends with exactly the result of an uninterrupted run (same iterations, scores, calls
and answer), no iteration missing or doubled, and a checkpoint store that passes SQLite's
integrity check. The agents are a local OpenAI-compatible server whose replies are pure
functions of their prompts (``aurelia.testing.crash``).

The kill points come from a seed, printed with every failure; replay one with
``AURELIA_CRASH_SEED=<seed> pytest tests/test_fault_crash.py``. ``benchmarks/crash_resume.py``
runs the same drill with many more kills.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aurelia.cli import app
from aurelia.durable import run_thread
from aurelia.testing.crash import (
    Kill,
    ScriptedAgents,
    checkpoint_iterations,
    child_env,
    cli_command,
    comparable,
    crash_drill,
    draw_kills,
    integrity,
    scripted_models,
    stranded,
    thread_done,
)

KILLS = 3
QUESTION = ["-q", "What colour is the screen while the audio is silent?", "-c", "red", "-c", "blue", "-c", "green"]
SETTINGS = ["--max-iterations", "3", "--threshold", "9", "--json", "--quiet"]


def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(clip, tmp_path):
    seed = int(os.environ.get("AURELIA_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"crash seed {seed} (replay: AURELIA_CRASH_SEED={seed})")
    with ScriptedAgents() as agents:
        run = ["run", str(clip), *QUESTION, *agents.role_options(), *SETTINGS]
        calm = CliRunner().invoke(app, [*run, "--thread", "calm", "--db", str(tmp_path / "calm.sqlite")])
        assert calm.exit_code == 0, calm.output
        expected = json.loads(calm.stdout)
        calm_requests = len(agents.requests)

        db = tmp_path / "crash.sqlite"
        # a killed launch gets at most ``at`` replies, and the run needs all ``calm_requests``: with
        # the kill points summing to fewer, every kill lands while the run still has work to do
        max_at = min(5, (calm_requests - 1) // KILLS)
        drill = crash_drill(
            cli_command(*run, "--thread", "t", "--db", str(db)),
            agents,
            draw_kills(seed, KILLS, max_at=max_at),
            seed=seed,
            env=child_env(),
            unfinished=lambda: not thread_done(db, "t"),  # checked after each kill
        )
        why = f"seed {seed}, kills {drill.kills}, requests per launch {drill.requests_per_launch}"
        result = json.loads(drill.stdout)
        assert len(drill.kills) == KILLS, why  # every kill landed, each while work remained
        assert comparable(result) == comparable(expected), why
        assert [it["iteration"] for it in result["iterations"]] == [1, 2, 3], why
        # the last launch resumed a killed run
        assert result["thread"]["status"] == "done" and result["thread"]["resumed_from"] == "interrupted", why
        # only the node a kill cut off runs again (at most 4 calls: ask, repair, re-ask, repair)
        assert len(agents.requests) - calm_requests <= calm_requests + 4 * len(drill.kills), why

        # the store: intact, and every checkpoint's iterations a prefix of the final ones (no fork, no double)
        assert integrity(db) == "ok", why
        final = comparable(result)["iterations"]
        stored = checkpoint_iterations(db, "t")
        assert stored[-1] == final and all(its == final[: len(its)] for its in stored), why
        # the finished thread answers from the store: no model is called again
        before = len(agents.requests)
        again = CliRunner().invoke(app, ["resume", "t", "--db", str(db), "--json", "--quiet"])
        assert again.exit_code == 0 and len(agents.requests) == before, why
        assert comparable(json.loads(again.stdout)) == comparable(expected), why


def cut_after(db: Path, channel: str) -> None:
    """Leave the store as a SIGKILL would: the first checkpoint with a pending write to ``channel``
    keeps its writes, and nothing after it was written."""
    conn = sqlite3.connect(db)
    with conn:
        (cid,) = conn.execute("SELECT MIN(checkpoint_id) FROM writes WHERE channel = ?", (channel,)).fetchone()
        conn.execute("DELETE FROM checkpoints WHERE checkpoint_id > ?", (cid,))
        conn.execute("DELETE FROM writes WHERE checkpoint_id > ?", (cid,))
    conn.close()


def test_a_kill_after_a_nodes_writes_and_before_the_next_checkpoint_resumes(clip, tmp_path):
    db = tmp_path / "t.sqlite"
    settings = {"max_iterations": 3, "threshold": 9}
    full = run_thread(
        clip, "What colour?", choices=["red", "blue", "green"], settings=settings, thread_id="t", db=db, models=scripted_models()
    )
    cut_after(db, "branch:to:feedback")  # the evaluator of iteration 1 finished; the checkpoint after it is missing
    assert stranded(db, "t")
    again = run_thread(None, None, thread_id="t", db=db, models=scripted_models())
    assert again["thread"]["resumed_from"] == "interrupted"
    assert comparable(again) == comparable(full)


def test_a_kill_that_lands_after_the_run_is_done_fails_the_drill(clip, tmp_path):
    db = tmp_path / "t.sqlite"
    run_thread(
        clip, "What colour?", choices=["red", "green"], settings={"max_iterations": 1}, thread_id="t", db=db, models=scripted_models()
    )
    assert thread_done(db, "t") and not thread_done(db, "other") and not thread_done(tmp_path / "none.sqlite", "t")
    with ScriptedAgents() as agents:
        launch = cli_command("run", str(clip), *QUESTION, *agents.role_options(), *SETTINGS, "--thread", "t2", "--db", str(db))
        # the probe reads a thread whose work is done, as it would after a kill at exit: no proof
        with pytest.raises(AssertionError, match="landed after the run was done"):
            crash_drill(launch, agents, [Kill(1, "during")], seed=0, env=child_env(), unfinished=lambda: not thread_done(db, "t"))


def test_kill_points_replay_from_their_seed():
    assert draw_kills(7, 5) == draw_kills(7, 5) and len({(k.at, k.when) for k in draw_kills(7, 50)}) > 2
