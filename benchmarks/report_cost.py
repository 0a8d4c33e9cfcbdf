"""The figure and the table of docs/bench.md's "Cost next to accuracy": a seeded, hand-written run
(no model, no media) read by ``aurelia bench report``.

120 multiple-choice questions; one scripted target right with probability 0.45 zero-shot, 0.48
with its own chain of thought (``cot``, one longer call), 0.50 by self-consistency (``sc``, 5
sampled calls), 0.55 with r* (``steps``) and 0.47 with another sample's r* (``placebo``). Each r*
took 1-3 iterations of 3 agent calls (and a feedback call between two), 1.2 s each.

    python benchmarks/report_cost.py OUT_DIR

writes OUT_DIR/run/ (store, run.json, report.json, report.md, plots) and prints the report's
cost table and the path of cost.png.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from aurelia.bench.ablation import reasoning_hash
from aurelia.bench.manifest import Sample
from aurelia.bench.render import condition_cost_lines, write_report
from aurelia.bench.store import ResultStore, write_run_json

RATES = {"none": 0.45, "cot": 0.48, "sc": 0.50, "steps": 0.55, "placebo": 0.47}
AGENT = {"input_tokens": 900, "output_tokens": 150, "total_tokens": 1050}


def usage(i: int, o: int) -> dict[str, int]:
    return {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}


def trajectory(rng: random.Random) -> dict:
    used = rng.choice([1, 2, 2, 3])
    star = {"steps": [{"step": "look at the last part", "answer": "green"}], "final_answer": "green"}
    its = [{"iteration": i, "score": 8 if i == used else 5, "reasoning": star} for i in range(1, used + 1)]
    calls = []
    for i in range(1, used + 1):
        calls += [{"role": r, "iteration": i, "seconds": 1.2, "usage": AGENT} for r in ("generator", "summarizer", "evaluator")]
        if i < used:
            calls.append({"role": "feedback", "iteration": i, "seconds": 1.2, "usage": AGENT})
    return {"iterations": its, "calls": calls, "reasoning_star": star, "stop_reason": "threshold"}


def answer(sample: Sample, mode: str, right: bool, **extra: object) -> dict:
    output = "B" if right else "A"
    return {"id": sample.id, "task": "av_compositional", "category": [], "target": "scripted", "inject": mode, "output": output,
            "parsed": output, "correct": right, "error": None, **extra}  # fmt: skip


def write_run(folder: Path, n: int = 120, seed: int = 11) -> Path:
    rng = random.Random(seed)
    store = ResultStore(folder)
    ids = [f"q{i:03d}" for i in range(n)]
    for i, sid in enumerate(ids):
        sample = Sample(id=sid, task="av_compositional", video="clip.mp4", question="?", choices=["red", "green"], answer="green")
        store.add_sample(sample, i)
        t = trajectory(rng)
        store.set_trajectory(sid, "key", "graph", t)
        right = {mode: rng.random() < p for mode, p in RATES.items()}
        star = {"rhash": reasoning_hash(t["reasoning_star"]), "reasoning_calls": len(t["calls"])}
        star["reasoning_seconds"] = round(1.2 * len(t["calls"]), 3)
        for record in (
            answer(sample, "none", right["none"], seconds=0.4, usage=usage(1200, 5)),
            answer(sample, "cot", right["cot"], seconds=1.6, usage=usage(1230, 180)),
            answer(sample, "sc", right["sc"], seconds=2.0, usage=usage(6000, 25), target_calls=5),
            answer(sample, "steps", right["steps"], seconds=0.45, usage=usage(1500, 5), **star),
            answer(sample, "placebo", right["placebo"], seconds=0.45, usage=usage(1500, 5), rhash="other", placebo_of=ids[(i + 1) % n]),
        ):
            store.put_result(record)
    store.close()
    write_run_json(folder, {"targets": ["scripted"], "context": {"threshold": 8, "max_iterations": 3}}, {}, "finished")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    written = write_report(write_run(args.out / "run"))
    print("\n".join(condition_cost_lines(written["report"]["statistics"])[4:]))
    print(next(p for p in written["plots"] if p.name == "cost.png"))


if __name__ == "__main__":
    main()
