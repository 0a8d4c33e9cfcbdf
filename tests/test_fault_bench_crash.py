"""Crash safety of the runner: the benchmark process is SIGKILLed at random points N times and
resumed each time; the final results equal an uninterrupted run's (same records, none missing,
none doubled), both SQLite files pass ``PRAGMA integrity_check``, and every r* in the store is
its cache entry. The seed is in every failure message (``AURELIA_FAULT_SEED=S`` replays it)."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

from aurelia.bench import run_benchmark
from aurelia.testing.bench_faults import inconsistent_cache, integrity, kill_at_random, store_counts, stored_records
from aurelia.testing.chat import TimedFakeChat, agent_models

HERE = Path(__file__).parent
N_KILLS, N_SAMPLES, DELAY = 3, 8, 0.1


def write_manifest(folder: Path, clip: Path, n: int) -> Path:
    lines = [
        {"id": f"s{i}", "task": "av_compositional", "video": str(clip), "question": f"Which colour comes last? (#{i})", "choices": ["red", "blue", "green"], "answer": "green"}
        for i in range(n)
    ]  # fmt: skip
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    return path


def test_random_sigkills_then_resume_equal_an_uninterrupted_run(tmp_path, clip) -> None:
    seed = int(os.environ.get("AURELIA_FAULT_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    manifest = write_manifest(tmp_path, clip, N_SAMPLES)
    run, cache = tmp_path / "run", tmp_path / "cache.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    # the last sample's target never answers in the worker: each kill lands while work remains
    # (kill_at_random checks that the store held fewer than all the records at the kill)
    hold = f"(#{N_SAMPLES - 1})"
    worker = [sys.executable, str(HERE / "bench_worker.py"), str(manifest), str(run), str(cache), str(DELAY), hold]
    delays = [kill_at_random(worker, run, rng, 1.5, env, total=2 * N_SAMPLES) for _ in range(N_KILLS)]
    where = f"seed {seed} (kills after {', '.join(f'{d:.2f}' for d in delays)} s)"
    run_benchmark(manifest, {"fake": TimedFakeChat(responses=["C"])}, run, models=agent_models(), cache=cache, concurrency=2)
    clean = tmp_path / "clean"
    run_benchmark(
        manifest, {"fake": TimedFakeChat(responses=["C"])}, clean, models=agent_models(), cache=tmp_path / "c2.sqlite", concurrency=2
    )
    expected = stored_records(clean)
    assert len(expected) == 2 * N_SAMPLES, where
    assert set(store_counts(run).values()) == {1}, where
    assert stored_records(run) == expected, where
    for path in (run / "store.sqlite", cache):
        assert integrity(path) == "ok", f"{where}: {path.name}"
    assert inconsistent_cache(run, cache) == [], where
    assert len((run / "results.jsonl").read_text().splitlines()) == 2 * N_SAMPLES, where
