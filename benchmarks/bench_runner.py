"""The benchmark runner's performance: concurrency, calls saved by the reasoning cache and the store.

Fake chat models (``aurelia.testing.chat.TimedFakeChat``) take a fixed time per call, as remote
models would; agents score 8 (τ = 6), so each r* takes one iteration (3 agent calls), and each
target answers twice per sample (zero-shot and with r*). Prints:

1. the wall time of 64 samples at --concurrency 1 and 16, and their ratio (goal: ≥ 10×);
2. the agent calls of a run with 4 targets and with 1 target (fresh caches; goal: equal);
3. the calls of a rerun after completion (goal: 0 and 0), and of a rerun after a SIGKILL at about
   half-way: the agent calls spent on the samples finished before the kill (goal: 0);
4. the agent calls of ``--ablate`` on a finished run with full trajectories (goal: 0).

    python benchmarks/bench_runner.py [--delay SECONDS] [--samples N]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aurelia.bench import run_benchmark
from aurelia.testing.chat import TimedFakeChat, agent_models, calls_of
from aurelia.testing.clips import Segment, make_clip

COLOURS = [(220, 30, 30), (30, 60, 220), (40, 200, 60), (230, 200, 40)]


def write_manifest(folder: Path, n: int) -> Path:
    """n questions over 4 synthetic clips (media are measured once per clip and process)."""
    clips = [make_clip(folder / f"clip{i}.mp4", [Segment(1, COLOURS[i], 440.0), Segment(1, COLOURS[(i + 1) % 4], None)]) for i in range(4)]
    lines = [
        {"id": f"s{i:03d}", "task": "av_compositional", "video": str(clips[i % 4]), "question": f"Which colour comes last? (#{i})",
         "choices": ["red", "blue", "green", "yellow"], "answer": "B"}
        for i in range(n)
    ]  # fmt: skip
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    return path


def targets(n: int, delay: float) -> dict[str, TimedFakeChat]:
    return {f"target{i}": TimedFakeChat(responses=["B"], delay=delay) for i in range(n)}


def timed_run(manifest: Path, out: Path, delay: float, concurrency: int, n_targets: int = 1) -> tuple[float, dict]:
    models = agent_models(delay)
    start = time.perf_counter()
    result = run_benchmark(
        manifest, targets(n_targets, delay), out, models=models, cache=out.with_suffix(".cache.sqlite"), concurrency=concurrency
    )
    assert result.counts.agent_calls == calls_of(models)
    return time.perf_counter() - start, result.counts.to_dict()


def finished_ids(run: Path) -> set[str]:
    if not (run / "store.sqlite").exists():
        return set()
    try:
        with sqlite3.connect(run / "store.sqlite") as db:
            rows = db.execute("SELECT id FROM results WHERE status = 'done' GROUP BY id HAVING COUNT(*) = 2").fetchall()
    except sqlite3.OperationalError:
        return set()
    return {r[0] for r in rows}


def kill_and_resume(manifest: Path, folder: Path, n: int, delay: float) -> dict:
    run, cache = folder / "killed", folder / "killed.cache.sqlite"
    proc = subprocess.Popen([sys.executable, __file__, "--worker", str(manifest), str(run), str(cache), str(delay)])
    while len(finished_ids(run)) < n // 2:
        if proc.poll() is not None:
            raise SystemExit("the worker ended before half-way")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = time.time()
    before = finished_ids(run)
    models = agent_models(delay)
    result = run_benchmark(manifest, targets(1, delay), run, models=models, cache=cache, concurrency=4)
    with sqlite3.connect(run / "store.sqlite") as db:
        keys = dict(db.execute("SELECT id, key FROM samples").fetchall())
    with sqlite3.connect(cache) as db:
        created = dict(db.execute("SELECT key, created FROM reasoning").fetchall())
    regenerated = [i for i in before if created[keys[i]] > killed_at]
    with sqlite3.connect(run / "store.sqlite") as db:
        rows, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT id || target || inject) FROM results").fetchone()
    return {
        "finished_before_kill": len(before),
        "resume_agent_calls": result.counts.agent_calls,
        "agent_calls_for_samples_finished_before_kill": 3 * len(regenerated),
        "records": rows,
        "distinct_records": distinct,
    }


def ablation(manifest: Path, folder: Path, delay: float) -> dict:
    reasonings = tuple(json.dumps({"steps": [{"step": f"look {i}", "answer": "blue"}], "final_answer": "blue"}) for i in range(3))
    context = {"max_iterations": 3, "threshold": 6, "early_stop": False}
    args = dict(cache=folder / "ablate.cache.sqlite", concurrency=16, context=context)
    run_benchmark(manifest, targets(1, delay), folder / "ablate", models=agent_models(delay, (3, 7, 5), reasonings), **args)
    models = agent_models(delay, (3, 7, 5), reasonings)
    result = run_benchmark(manifest, targets(1, delay), folder / "ablate", models=models, ablate=True, **args)
    return {"agent_calls": result.counts.agent_calls, "target_calls": result.counts.target_calls}


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        manifest, run, cache, delay = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
        run_benchmark(manifest, targets(1, delay), run, models=agent_models(delay), cache=cache, concurrency=4)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.1, help="seconds per model call")
    parser.add_argument("--samples", type=int, default=64)
    opts = parser.parse_args()
    n, delay = opts.samples, opts.delay
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manifest = write_manifest(folder, n)
        print(f"{n} samples, {delay} s per model call, {os.cpu_count()} cores")
        serial, _ = timed_run(manifest, folder / "c1", delay, 1)
        parallel, _ = timed_run(manifest, folder / "c16", delay, 16)
        print(f"1. concurrency 1: {serial:.1f} s; concurrency 16: {parallel:.1f} s; speed-up {serial / parallel:.1f}x (goal >= 10x)")
        _, one = timed_run(manifest, folder / "t1", delay, 16, 1)
        _, four = timed_run(manifest, folder / "t4", delay, 16, 4)
        print(f"2. agent calls with 1 target: {one['agent_calls']}; with 4 targets: {four['agent_calls']} (goal: equal)")
        _, again = timed_run(manifest, folder / "t4", delay, 16, 4)
        print(f"3. rerun after completion: {again['agent_calls']} agent calls, {again['target_calls']} target calls (goal: 0 and 0)")
        k = kill_and_resume(manifest, folder, n, delay)
        print(
            f"   SIGKILL after {k['finished_before_kill']} of {n} samples, then a rerun: {k['resume_agent_calls']} agent calls, of which "
            f"{k['agent_calls_for_samples_finished_before_kill']} for the samples finished before the kill (goal: 0); "
            f"{k['records']} records, {k['distinct_records']} distinct (goal: {2 * n} and {2 * n})"
        )
        a = ablation(manifest, folder, delay)
        print(
            f"4. --ablate on a finished run (early stop off, T = 3): {a['agent_calls']} agent calls (goal: 0), {a['target_calls']} target calls"
        )


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(main, "docs/performance.md")
