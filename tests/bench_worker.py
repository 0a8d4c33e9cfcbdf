"""A benchmark run in its own process, for the kill-and-resume test.

Usage: bench_worker.py MANIFEST RUN CACHE DELAY [HOLD]. Agents and the target are fake chat
models that take DELAY seconds per call; the test SIGKILLs the process half-way and resumes.
With HOLD, a target call whose prompt contains that text never returns: the run cannot finish,
so a kill at any time lands while work remains.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from aurelia.bench import run_benchmark
from aurelia.testing.chat import TimedFakeChat, agent_models


class HeldChat(TimedFakeChat):
    """A target that never answers a prompt containing ``hold`` (the process is killed waiting)."""

    hold: str

    def _call(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        if self.hold in str(messages):
            threading.Event().wait()
        return super()._call(messages, stop=stop, run_manager=run_manager, **kwargs)


def main() -> None:
    manifest, run, cache, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    hold = sys.argv[5] if len(sys.argv) > 5 else None
    target = TimedFakeChat(responses=["C"], delay=delay) if hold is None else HeldChat(responses=["C"], delay=delay, hold=hold)
    run_benchmark(manifest, {"fake": target}, run, models=agent_models(delay), cache=cache, concurrency=2)


if __name__ == "__main__":
    main()
