"""Cost next to accuracy: each condition's calls, tokens and seconds per sample on a run written
by hand, against what its records give by hand, whatever the inject modes are named.

Four multiple-choice samples, early stop on. The agents' calls take 1 s and 10 in / 2 out
tokens each: s0, s1, s2 ran 2 iterations (generator, summarizer, evaluator each, feedback after
the first: 7 calls), s3 passed at its first (3 calls). Conditions:

- ``none``: one target call, 0.5 s, 100 in / 1 out tokens;
- ``steps``: one target call (0.6 s, 150 in / 1 out) and the r* of its sample, as the engine
  records it (``reasoning_calls`` and ``reasoning_seconds``: 7, 7, 7, 3);
- ``vote`` (a mode this code never heard of): 3 sampled calls per record, 0.5 s and 100 in /
  5 out each: s0 and s1 say so with ``target_calls`` and their totals, s2 with a list of its
  calls; s3's answer failed (counted apart, not averaged in);
- ``shuffled``: the r* of the next sample (``placebo_of``), no agent call of its own; s3's answer
  failed, so it is s1's, s2's and s3's r*: 7 + 7 + 3 calls over 3 samples.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aurelia.bench.manifest import Sample
from aurelia.bench.render import write_report
from aurelia.bench.report import build_report
from aurelia.bench.store import ResultStore, write_run_json

AGENT_USAGE = {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
IDS = ["s0", "s1", "s2", "s3"]
RIGHT = {"none": {"s0"}, "steps": {"s0", "s1", "s2"}, "vote": {"s0", "s1"}, "shuffled": {"s0", "s2"}}


def trajectory(sid: str) -> dict:
    if sid == "s3":
        it = {"iteration": 1, "score": 9, "reasoning": {"steps": [{"step": "look", "answer": "green"}], "final_answer": "green"}}
        calls = [{"role": r, "iteration": 1, "seconds": 1.0, "usage": AGENT_USAGE} for r in ("generator", "summarizer", "evaluator")]
        return {"iterations": [it], "calls": calls, "reasoning_star": it["reasoning"], "stop_reason": "threshold"}
    its = [
        {
            "iteration": i,
            "score": 4 + 4 * (i - 1),
            "reasoning": {"steps": [{"step": f"look {i}", "answer": "green"}], "final_answer": "green"},
        }
        for i in (1, 2)
    ]
    calls = [
        {"role": r, "iteration": i, "seconds": 1.0, "usage": AGENT_USAGE} for i in (1, 2) for r in ("generator", "summarizer", "evaluator")
    ]
    calls.insert(3, {"role": "feedback", "iteration": 1, "seconds": 1.0, "usage": AGENT_USAGE})
    return {"iterations": its, "calls": calls, "reasoning_star": its[1]["reasoning"], "stop_reason": "threshold"}


def usage(i: int, o: int) -> dict:
    return {"input_tokens": i, "output_tokens": o, "total_tokens": i + o}


def record(sid: str, mode: str, **extra) -> dict:
    right = sid in RIGHT[mode]
    return {"id": sid, "task": "av_compositional", "category": [], "target": "t", "inject": mode, "output": "B" if right else "A",
            "parsed": "B" if right else "A", "correct": right, "error": None} | extra  # fmt: skip


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "run"
    store = ResultStore(folder)
    for order, sid in enumerate(IDS):
        sample = Sample(id=sid, task="av_compositional", video="clip.mp4", question="Which?", choices=["red", "green"], answer="green")
        store.add_sample(sample, order)
        store.set_trajectory(sid, "key", "graph", trajectory(sid))
        store.put_result(record(sid, "none", seconds=0.5, usage=usage(100, 1)))
        n = 3 if sid == "s3" else 7
        store.put_result(record(sid, "steps", seconds=0.6, usage=usage(150, 1), rhash=f"h{sid}", reasoning_calls=n, reasoning_seconds=float(n),
                                iterations_used=n // 3))  # fmt: skip
        failed = {"output": None, "parsed": None, "correct": None, "error": "TimeoutError: no answer"} if sid == "s3" else {}
        if sid == "s2":
            store.put_result(record(sid, "vote", seconds=1.5, calls=[{"seconds": 0.5, "usage": usage(100, 5)} for _ in range(3)]))
        else:
            store.put_result(record(sid, "vote", seconds=1.5, usage=usage(300, 15), target_calls=3) | failed)
        other = IDS[(order + 1) % len(IDS)]
        store.put_result(record(sid, "shuffled", seconds=0.6, usage=usage(150, 1), rhash=f"h{other}", placebo_of=other) | failed)
    store.close()
    context = {"threshold": 8, "max_iterations": 3, "early_stop": True}
    write_run_json(folder, {"targets": ["t"], "context": context, "reasoning": "generate"}, {}, "finished")
    return folder


def test_cost_per_condition_equals_the_records_by_hand(run):
    stats = build_report(run)["statistics"]
    cost = stats["cost"]["t"]
    assert list(cost) == ["none", "shuffled", "steps", "vote"]  # every mode the records hold, none named in the code
    assert {k: v for k, v in cost["none"].items() if k != "by_task"} == {
        "samples": 4,
        "failed": 0,
        "target_calls_per_sample": 1.0,
        "agent_calls_per_sample": 0.0,
        "calls_per_sample": 1.0,
        "tokens_per_sample": {"target": {"input_tokens": 100.0, "output_tokens": 1.0, "total_tokens": 101.0}, "agent": {}},
        "seconds_per_sample": {"target": 0.5, "agent": 0.0, "total": 0.5},
    }
    steps = cost["steps"]
    assert (steps["target_calls_per_sample"], steps["agent_calls_per_sample"], steps["calls_per_sample"]) == (1.0, 6.0, 7.0)
    assert steps["tokens_per_sample"]["agent"] == {
        "input_tokens": 60.0,
        "output_tokens": 12.0,
        "total_tokens": 72.0,
    }  # 24 calls · 10/2, over 4
    assert steps["seconds_per_sample"] == {"target": 0.6, "agent": 6.0, "total": 6.6}
    vote = cost["vote"]  # three calls per record, counted from the record's own call list
    assert (vote["samples"], vote["failed"], vote["target_calls_per_sample"], vote["agent_calls_per_sample"]) == (3, 1, 3.0, 0.0)
    assert vote["tokens_per_sample"]["target"] == {"input_tokens": 300.0, "output_tokens": 15.0, "total_tokens": 315.0}
    assert vote["seconds_per_sample"]["target"] == 1.5
    shuffled = cost["shuffled"]  # the r* it injected was made for another sample: that r*'s calls, not its own sample's
    assert (shuffled["samples"], shuffled["failed"], shuffled["agent_calls_per_sample"]) == (3, 1, round(17 / 3, 4))
    assert shuffled["tokens_per_sample"]["agent"]["output_tokens"] == round(17 * 2 / 3, 1)
    assert steps["by_task"]["av_compositional"] == {k: v for k, v in steps.items() if k != "by_task"}
    # r* made once per sample, whichever conditions share it
    assert stats["r_star_cost"] == {
        "samples": 4,
        "agent_calls_per_sample": 6.0,
        "agent_seconds_per_sample": 6.0,
        "agent_tokens_per_sample": {"input_tokens": 60.0, "output_tokens": 12.0, "total_tokens": 72.0},
    }


def test_r_star_from_the_trajectory_when_the_record_does_not_say(run):
    """A record naming an r* without ``reasoning_calls`` (an older run): its sample's trajectory
    gives the calls; with early stop off, only the prefix the run's τ and T would have made."""
    store = ResultStore(run, create=False)
    store.put_result(record("s0", "steps", seconds=0.6, usage=usage(150, 1), rhash="hs0"))
    store.close()
    cost = build_report(run)["statistics"]["cost"]["t"]["steps"]
    assert cost["agent_calls_per_sample"] == 6.0 and cost["seconds_per_sample"]["agent"] == 6.0
    meta = json.loads((run / "run.json").read_text())
    meta["settings"]["context"] |= {"early_stop": False, "threshold": 4}  # every sample stops at iteration 1: 3 calls, no feedback
    (run / "run.json").write_text(json.dumps(meta))
    stats = build_report(run)["statistics"]
    assert stats["cost"]["t"]["steps"]["agent_calls_per_sample"] == (3 + 7 + 7 + 3) / 4  # s1-s3 as their records say
    assert stats["r_star_cost"]["agent_calls_per_sample"] == 3.0


def test_report_md_shows_the_cost_table_and_cost_png_is_drawn(run):
    written = write_report(run)
    md = written["markdown"].read_text()
    assert "### What each condition costs per sample" in md
    assert "| `t` | steps | 4 | 1.00 | 6.00 | 7.00 | 150.0 in, 1.0 out | 60.0 in, 12.0 out | 0.60 | 6.00 |" in md
    assert "| `t` | vote | 3 (1 failed) | 3.00 | 0.00 | 3.00 | 300.0 in, 15.0 out | — | 1.50 | 0.00 |" in md
    assert "| `t` | zero-shot | 4 | 1.00 | 0.00 | 1.00 |" in md
    assert "6.00 agent calls and 6.00 s per sample over 4 samples" in md
    assert (run / "cost.png").read_bytes()[:4] == b"\x89PNG" and run / "cost.png" in written["plots"]
    assert "![cost](cost.png)" in md


def test_the_docs_cost_command_prints_what_the_docs_say(tmp_path):
    script = Path(__file__).parent.parent / "benchmarks" / "report_cost.py"
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300, check=True).stdout
    row = "| `scripted` | steps | 120 | 1.00 | 6.80 | 7.80 | 1500.0 in, 5.0 out | 6120.0 in, 1020.0 out | 0.45 | 8.16 |"
    assert row in out and row in (script.parent.parent / "docs" / "bench.md").read_text()
    assert "| `scripted` | sc | 120 | 5.00 | 0.00 | 5.00 |" in out  # K sampled calls, no agent call
    stats = json.loads((tmp_path / "run" / "report.json").read_text())["statistics"]
    assert stats["accuracy"]["scripted"]["steps"]["av_compositional"]["ci"] == [0.5022, 0.6754]  # the docs' 0.592 [0.502, 0.675]
    assert (tmp_path / "run" / "cost.png").read_bytes()[:4] == b"\x89PNG"
