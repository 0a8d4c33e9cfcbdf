"""Graph overhead per iteration, next to the model time.

Runs the full graph on a synthetic clip twice in the same process:
1. with instant LangChain fake chat models (what is left is LangGraph + our nodes: prompt
   rendering, parsing, state updates; the media digest is cached after the first run);
2. with the embedded llama.cpp model (`local`), the offline default.
Prints seconds per iteration for each and the overhead as a fraction of the model run.

    python benchmarks/graph_overhead.py [--iterations 3] [--repeats 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from aurelia import Context, build_graph
from aurelia.testing.clips import Segment, make_clip

REASONING = json.dumps({"steps": [{"step": "look", "answer": "green"}], "final_answer": "green"})


def fake_models() -> dict:
    return {
        "generator": FakeListChatModel(responses=[REASONING]),
        "summarizer": FakeListChatModel(responses=["a green screen, then silence"]),
        "evaluator": FakeListChatModel(responses=['{"score": 2, "rationale": "too vague"}']),
        "target": FakeListChatModel(responses=["B"]),
    }


def timed_run(graph, clip: Path, iterations: int) -> tuple[float, dict]:
    start = time.perf_counter()
    out = graph.invoke(
        {"video": str(clip), "question": "What colour is the screen at the end?", "choices": ["red", "green"]},
        context=Context(threshold=10, max_iterations=iterations),
    )
    return time.perf_counter() - start, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-local", action="store_true", help="only measure the fake-model overhead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "bench.mp4", [Segment(2, (220, 30, 30), 440.0), Segment(2, (40, 200, 60), None)])
        fake_graph = build_graph(models=fake_models())
        timed_run(fake_graph, clip, args.iterations)  # warm the media cache
        fake_times = []
        for _ in range(args.repeats):
            seconds, out = timed_run(fake_graph, clip, args.iterations)
            fake_times.append(seconds / len(out["iterations"]))
        overhead = statistics.median(fake_times)
        print(
            f"graph overhead with instant fake models: {overhead * 1000:.1f} ms/iteration (median of {args.repeats} runs, T={args.iterations})"
        )
        if args.skip_local:
            return 0
        local_graph = build_graph()
        timed_run(local_graph, clip, 1)  # load the GGUF once
        seconds, out = timed_run(local_graph, clip, args.iterations)
        n = len(out["iterations"])
        per_iter = statistics.mean(sum(it["seconds"].values()) for it in out["iterations"])
        in_models = sum(c["seconds"] for c in out["calls"])
        print(f"embedded local model (llama.cpp SmolLM2-135M): {per_iter:.2f} s of model calls per iteration ({n} iterations)")
        print(f"  same run, time outside model calls: {(seconds - in_models) * 1000:.0f} ms in {seconds:.1f} s")
        print(f"overhead / model time per iteration: {overhead / per_iter:.4f} ({overhead / per_iter * 100:.3f}%)")
    return 0


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    raise SystemExit(run_with_docs(main, "docs/performance.md"))
