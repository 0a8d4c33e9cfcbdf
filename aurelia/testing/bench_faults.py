"""Fault helpers shared by the runner's fault tests and ``benchmarks/bench_faults.py``: a seeded
schedule of provider faults for :class:`aurelia.testing.faults.FaultServer`, a SIGKILL at a random
point of a benchmark process, and the checks on a run folder after it (records by key, SQLite
integrity, the store's r* against the reasoning cache)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from aurelia.testing.crash import integrity  # noqa: F401 (re-exported for the bench fault tests)

FAULTS = ("429:0", "500", "503", "drop", "hang")  # 429 asks for no wait; a hang runs into --timeout
KEPT = ("id", "task", "target", "inject", "output", "parsed", "correct", "error", "rhash", "best_iteration", "iterations_used")


def flaky_script(rng: random.Random, n: int, rate: float = 0.3) -> list[str]:
    """n behaviours, each a fault with probability ``rate``, then ok for good."""
    return [rng.choice(FAULTS) if rng.random() < rate else "ok" for _ in range(n)] + ["ok"]


def stamp(path: Path) -> int | None:
    """A file's mtime (run.json is rewritten once an invocation holds the store)."""
    return path.stat().st_mtime_ns if path.exists() else None


def kill_at_random(
    command: Sequence[str], run: Path, rng: random.Random, most: float, env: dict[str, str] | None = None, total: int | None = None
) -> float:
    """Start ``command`` (a runner on ``run``), SIGKILL it a random time (≤ ``most`` s) after it
    holds the store; returns that time. Raises AssertionError when the kill did not land on a
    running process, or, given the ``total`` of records a whole run stores, when the store held
    them all by then: a kill after the work was done proves nothing."""
    started = stamp(run / "run.json")
    proc = subprocess.Popen(list(command), env=env)
    try:
        deadline = time.monotonic() + 60
        while stamp(run / "run.json") == started and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        delay = rng.uniform(0.0, most)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if proc.returncode != -signal.SIGKILL:
        raise AssertionError(f"the runner was not killed {delay:.2f} s in: it had ended with status {proc.returncode}")
    if total is not None and (stored := sum(store_counts(run).values()) if (run / "store.sqlite").exists() else 0) >= total:
        raise AssertionError(f"the kill {delay:.2f} s in landed after the run was done ({stored} of {total} records stored)")
    return delay


def store_counts(run: Path) -> dict[tuple[str, str, str], int]:
    """How many records RUN/store.sqlite holds per (id, target, inject)."""
    with sqlite3.connect(run / "store.sqlite") as db:
        rows = db.execute("SELECT id, target, inject, COUNT(*) FROM results GROUP BY id, target, inject").fetchall()
    return {(i, t, m): n for i, t, m, n in rows}


def stored_records(run: Path) -> dict[tuple[str, str, str], dict]:
    """The store's records by (id, target, inject), without their timings."""
    with sqlite3.connect(run / "store.sqlite") as db:
        rows = [json.loads(r[0]) for r in db.execute("SELECT record FROM results")]
    return {(r["id"], r["target"], r["inject"]): {k: r.get(k) for k in KEPT} for r in rows}


def inconsistent_cache(run: Path, cache: Path) -> list[str]:
    """Samples whose stored trajectory is not the cache entry under its key."""
    with sqlite3.connect(run / "store.sqlite") as store, sqlite3.connect(cache) as entries:
        stored = store.execute("SELECT id, key, trajectory FROM samples WHERE status = 'done'").fetchall()
        cached = dict(entries.execute("SELECT key, value FROM reasoning").fetchall())
    return [sid for sid, key, trajectory in stored if key not in cached or json.loads(cached[key]) != json.loads(trajectory)]
