"""The runner under faults, at scale (fake fast models; not run in CI).

1. Flaky providers: SAMPLES samples made from the offline sample benchmark (its 24 lines repeated
   with distinct questions), the agents and a chat target served by a loopback OpenAI-compatible
   server (``aurelia.testing.faults``) that fails RATE of the requests (429, 500, 503, dropped
   connections, hangs past --timeout) on a seeded schedule. Prints the records by outcome, the
   records doubled (goal: 0) and missing (goal: 0), the requests per logical call per role, and
   what ``retry_failed`` against the healed server leaves failed (goal: 0).
2. Crash safety: KILLS SIGKILLs at random points of a runner process, resumed each time; prints
   whether the result equals an uninterrupted run's, the integrity of both SQLite files and the
   r* that disagree with the cache (goal: equal, ok, 0). The worker is tests/bench_worker.py.

    python benchmarks/bench_faults.py [--samples 200] [--rate 0.3] [--kills 10] [--seed 13]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

from aurelia.bench import run_benchmark, write_sample_benchmark
from aurelia.models import retry
from aurelia.targets import TargetSettings
from aurelia.testing.bench_faults import flaky_script, inconsistent_cache, integrity, kill_at_random, store_counts, stored_records
from aurelia.testing.chat import TimedFakeChat, agent_models
from aurelia.testing.faults import FaultServer

REPLIES = {
    "gen": '{"steps": [{"step": "Count the beeps", "answer": "3"}], "final_answer": "3"}',
    "sum": "Three beeps, then silence.",
    "eval": '{"score": 8, "rationale": "ok"}',
    "tgt": "A",
}
WORKER = Path(__file__).resolve().parent.parent / "tests" / "bench_worker.py"


def failure_kind(error: str) -> str:
    """A failure's kind for counting: its first clause, with model URLs (and their ports) named
    as ``model URL`` so that one kind is one key."""
    return re.split(r": | \(", re.sub(r"'https?://[^']*'", "URL", error))[0].replace("model URL", "a model call")[:60]


def scaled_manifest(folder: Path, n: int) -> Path:
    """n samples over the sample benchmark's clips: its lines in turn, each with its own question."""
    sample = write_sample_benchmark(folder / "bench")
    base = [json.loads(x) for x in sample.read_text().splitlines()]
    lines = []
    for i in range(n):
        line = dict(base[i % len(base)])
        line["id"], line["question"] = f"{line['id']}-{i}", f"{line['question']} (#{i})"
        lines.append(line)
    path = sample.with_name("scaled.jsonl")  # beside the clips: the media paths are relative
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    return path


def flaky(folder: Path, n: int, rate: float, seed: int) -> None:
    retry.sleep = lambda _s: None  # Retry-After and backoff are counted, not slept
    os.environ.setdefault("OPENAI_API_KEY", "not-used")
    manifest, run = scaled_manifest(folder, n), folder / "run"
    rng = random.Random(seed)
    with FaultServer({m: flaky_script(rng, 20 * n, rate) for m in REPLIES}, REPLIES) as server:
        roles = {"generator_model": "gen", "summarizer_model": "sum", "evaluator_model": "eval"}
        context = {role: server.url(m) for role, m in roles.items()} | {"request_timeout": 0.5}
        args = dict(context=context, cache=folder / "c.sqlite", concurrency=8, target_settings=TargetSettings(request_timeout=0.5))
        first = run_benchmark(manifest, [server.url("tgt")], run, **args)
        counts = store_counts(run)
        records = stored_records(run)
        failed = Counter(failure_kind(r["error"]) for r in records.values() if r["error"])
        requests = Counter(s.model for s in server.seen)
        faults = sum(1 for s in server.seen if s.behaviour != "ok")
        print(f"flaky ({rate:.0%} of requests fail, seed {seed}): {n} samples, {len(records)} records (expected {2 * n})")
        print(
            f"  doubled {sum(1 for c in counts.values() if c > 1)}, missing {2 * n - len(counts)}; faults injected {faults} of {len(server.seen)} requests"
        )
        print(f"  answered {sum(1 for r in records.values() if not r['error'])}, failed {sum(failed.values())}: {dict(failed)}")
        logical = {"agents": first.counts.agent_calls, "target": first.counts.target_calls}
        agent_requests = requests["gen"] + requests["sum"] + requests["eval"]
        print(
            f"  logical calls {logical}; requests per logical call: agents {agent_requests / max(1, logical['agents']):.2f}, target {requests['tgt'] / max(1, logical['target']):.2f}"
        )
        print(f"  requests per role: {dict(requests)}")
        for m in REPLIES:
            server.script(m, ["ok"])
        run_benchmark(manifest, [server.url("tgt")], run, retry_failed=True, **args)
        after = stored_records(run)
        print(
            f"  after retry_failed (healed): {sum(1 for r in after.values() if r['error'])} failed, {len(after)} records, doubled {sum(1 for c in store_counts(run).values() if c > 1)}"
        )


def kills(folder: Path, n_kills: int, seed: int) -> None:
    rng = random.Random(seed)
    manifest = scaled_manifest(folder, 48)
    run, cache = folder / "run", folder / "cache.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKER.parent.parent), os.environ.get("PYTHONPATH", "")])}
    worker = [sys.executable, str(WORKER), str(manifest), str(run), str(cache), "0.2"]  # 0.2 s per call: ~24 s of work
    progress = []
    for _ in range(n_kills):
        kill_at_random(worker, run, rng, 2.0, env)
        progress.append(len(stored_records(run)) if (run / "store.sqlite").exists() else 0)
    interrupted = progress[-1]
    run_benchmark(manifest, {"fake": TimedFakeChat(responses=["C"])}, run, models=agent_models(), cache=cache, concurrency=2)
    clean = folder / "clean"
    run_benchmark(
        manifest, {"fake": TimedFakeChat(responses=["C"])}, clean, models=agent_models(), cache=folder / "c2.sqlite", concurrency=2
    )
    same = stored_records(run) == stored_records(clean)
    print(
        f"crash ({n_kills} SIGKILLs, seed {seed}): records stored after each kill {progress}; {interrupted} of {len(stored_records(clean))} before the last resume"
    )
    print(f"  equal to an uninterrupted run: {same}; doubled {sum(1 for c in store_counts(run).values() if c > 1)}")
    print(
        f"  integrity: store {integrity(run / 'store.sqlite')}, cache {integrity(cache)}; r* unlike the cache: {len(inconsistent_cache(run, cache))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.3)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=13)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "flaky").mkdir()
        (Path(tmp) / "crash").mkdir()
        flaky(Path(tmp) / "flaky", opts.samples, opts.rate, opts.seed)
        kills(Path(tmp) / "crash", opts.kills, opts.seed)


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(main, "docs/bench.md")
