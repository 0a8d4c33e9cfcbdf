"""Memory across many sequential runs in one process: does RSS grow with the number of runs?

Runs the full graph (T = 2, a target answer) on a synthetic clip with fast LangChain fake chat
models, through the public API (``aurelia.run``: a graph per run, as a script would), and prints
the resident set size after a warm-up of 20 runs, then after 100 and 500 runs, with the growth
per run after the warm-up. Fake models leave only Aurelia, LangGraph and LangChain in the loop.

    python benchmarks/memory_runs.py [--runs 500]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from aurelia.run import run
from aurelia.testing.clips import Segment, make_clip

REASONING = json.dumps({"steps": [{"step": "look at the end", "answer": "green"}], "final_answer": "green"})
CHECKPOINTS = (20, 100, 500)


def rss_mib() -> float:
    """Current resident set size (Linux /proc; not the peak)."""
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def models() -> dict:
    return {
        "generator": FakeListChatModel(responses=[REASONING]),
        "summarizer": FakeListChatModel(responses=["red, then blue, then a silent green screen"]),
        "evaluator": FakeListChatModel(responses=['{"score": 4, "rationale": "vague"}', '{"score": 8, "rationale": "ok"}']),
        "target": FakeListChatModel(responses=["C"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=max(CHECKPOINTS))
    args = parser.parse_args()
    clip = make_clip(Path(tempfile.mkdtemp()) / "clip.mp4", [Segment(2, (220, 30, 30), 440.0), Segment(2, (40, 200, 60), None)])
    marks = sorted({*(c for c in CHECKPOINTS if c <= args.runs), args.runs})
    print(f"{'runs':>5} {'RSS MiB':>8} {'ms/run':>7}")
    start, done, base = time.perf_counter(), 0, None
    for mark in marks:
        while done < mark:
            out = run(clip, "What colour at the end?", choices=["red", "blue", "green"], models=models(), context={"max_iterations": 2})
            assert out["answer"] == "green"
            done += 1
        gc.collect()
        rss = rss_mib()
        base = (rss, done) if base is None else base
        print(f"{done:5d} {rss:8.1f} {1000 * (time.perf_counter() - start) / done:7.1f}")
    if done > base[1]:
        print(f"growth after the warm-up: {1024 * (rss - base[0]) / (done - base[1]):.1f} KiB per run over {done - base[1]} runs")


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(main, "docs/performance.md")
