"""A benchmark run in its own process, for the kill-and-resume test.

Usage: bench_worker.py MANIFEST RUN CACHE DELAY. Agents and the target are fake chat models
that take DELAY seconds per call; the test SIGKILLs the process half-way and resumes.
"""

from __future__ import annotations

import sys

from aurelia.bench import run_benchmark
from aurelia.testing.chat import TimedFakeChat, agent_models


def main() -> None:
    manifest, run, cache, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    target = TimedFakeChat(responses=["C"], delay=delay)
    run_benchmark(manifest, {"fake": target}, run, models=agent_models(delay), cache=cache, concurrency=2)


if __name__ == "__main__":
    main()
