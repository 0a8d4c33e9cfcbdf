"""``aurelia bench report``: every number against a tiny run written by hand into a store.

Four multiple-choice samples (red / green, the answer is green = B), τ = 6, T = 3, full
trajectories. Each iteration costs 3 s (generator, summarizer, evaluator 1 s each) and the
feedback after it 0.5 s. The target follows the reasoning: it answers B when the injected r*
says green. Hand computation (iteration scores; own final answers):

  s0: 3 red, 7 green (leaks), 8 green   -> (τ 6, T 3) stops at 2, r* = 2 (right)
  s1: 8 red, 2 green, 2 red             -> stops at 1, r* = 1 (wrong)
  s2: 2 red, 4 red, 5 green             -> runs 3, r* = 3 (right)
  s3: unscored green, 6 red, 9 green    -> stops at 2, r* = 2 (wrong)
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aurelia.bench.ablation import reasoning_hash
from aurelia.bench.manifest import Sample
from aurelia.bench.render import write_report
from aurelia.bench.report import build_report
from aurelia.bench.store import ResultStore, write_run_json
from aurelia.cli import app

TRAJECTORIES = {
    "s0": [(3, "red"), (7, "green"), (8, "green")],
    "s1": [(8, "red"), (2, "green"), (2, "red")],
    "s2": [(2, "red"), (4, "red"), (5, "green")],
    "s3": [(None, "green"), (6, "red"), (9, "green")],
}
ZERO_SHOT_OUTPUTS = {"s0": "A", "s1": "B", "s2": "A", "s3": "I cannot tell"}
USAGE = {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}


def reasoning(sample: str, i: int, answer: str) -> dict:
    return {"steps": [{"step": f"{sample} look {i}", "answer": answer}], "final_answer": answer}


def trajectory(sample: str) -> dict:
    its, calls = [], []
    for i, (score, answer) in enumerate(TRAJECTORIES[sample], start=1):
        its.append(
            {
                "iteration": i,
                "score": score,
                "reasoning": reasoning(sample, i, answer),
                "leaks": [{"step": 1}] if (sample, i) == ("s0", 2) else [],
            }
        )
        calls += [{"role": role, "iteration": i, "seconds": 1.0, "usage": USAGE} for role in ("generator", "summarizer", "evaluator")]
        if i < 3:
            calls.append({"role": "feedback", "iteration": i, "seconds": 0.5, "usage": {}})
    return {"iterations": its, "calls": calls, "reasoning_star": None, "stop_reason": "max_iterations"}


def answer_for(r: dict) -> str:
    return "B" if r["final_answer"] == "green" else "A"


def record(sample: str, inject: str, output: str, **extra) -> dict:
    right = output == "B"
    parsed = output if output in ("A", "B") else None
    return {"id": sample, "task": "av_compositional", "category": [], "target": "t", "inject": inject, "output": output, "parsed": parsed,
            "correct": right, "error": None, "seconds": 0.1, "usage": USAGE, **extra}  # fmt: skip


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "run"
    store = ResultStore(folder)
    stars = {"s0": 2, "s1": 1, "s2": 3, "s3": 2}
    for order, sid in enumerate(TRAJECTORIES):
        sample = Sample(
            id=sid, task="av_compositional", video="clip.mp4", question="Which colour is last?", choices=["red", "green"], answer="green"
        )
        store.add_sample(sample, order)
        store.set_trajectory(sid, "key", "graph", trajectory(sid))
        store.put_result(record(sid, "none", ZERO_SHOT_OUTPUTS[sid]))
        star = reasoning(sid, stars[sid], TRAJECTORIES[sid][stars[sid] - 1][1])
        store.put_result(record(sid, "steps", answer_for(star), rhash=reasoning_hash(star), reasoning_seconds=1.0))
        for i, (_, ans) in enumerate(TRAJECTORIES[sid], start=1):
            if i != stars[sid]:
                r = reasoning(sid, i, ans)
                store.put_ablation(record(sid, "steps", answer_for(r), rhash=reasoning_hash(r)))
    store.close()
    context = {
        "threshold": 6,
        "max_iterations": 3,
        "early_stop": False,
        "generator_model": "g",
        "summarizer_model": "s",
        "evaluator_model": "e",
    }
    write_run_json(folder, {"targets": ["t"], "context": context, "reasoning": "generate"}, {"samples_done": 4}, "finished")
    return folder


def test_table1(run):
    report = build_report(run)
    cell = report["table1"]["tables"]["steps"]["t"]["av_compositional"]
    assert cell == {"metric": "accuracy", "zero_shot": 0.25, "aurelia": 0.5, "relative_gain": 100.0}
    zero_shot = report["table1"]["scores"]["t"]["none"]
    assert zero_shot["tasks"]["av_compositional"]["unparsed"] == 1 and zero_shot["missing"] == 0
    assert report["table1"]["scores"]["t"]["steps"]["seconds_per_sample"] == 1.1  # r* 1 s + answer 0.1 s


def test_tables_5_and_6(run):
    tables = build_report(run)["ablation"]["tables"]["t"]["steps"]
    acc = {axis: [row["tasks"]["av_compositional"]["accuracy"] for row in rows] for axis, rows in tables.items()}
    assert acc["T"] == [0.25, 0.25, 0.5]  # T' = 1, 2, 3 at τ = 6
    assert acc["tau"] == [0.25, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75]  # τ' = 4…10 at T = 3
    seconds = [row["seconds_per_sample"] for row in tables["T"]]
    assert seconds[0] == 3.1 and seconds[1] == 5.725  # used 1, 2, 2, 2 (and 1): 3 s per iteration + 0.5 s feedback + 0.1 s answer
    assert all(row["covered"] == 4 for rows in tables.values() for row in rows)


def test_cost(run):
    cost = build_report(run)["cost"]
    assert cost["agents"]["generator"] == {
        "calls": 12,
        "seconds": 12.0,
        "seconds_per_sample": 3.0,
        "tokens": {**USAGE, "total_tokens": 144, "input_tokens": 120, "output_tokens": 24},
    }
    assert cost["agents"]["feedback"]["calls"] == 8 and cost["agent_seconds_per_sample"] == 10.0
    assert cost["targets"]["t"]["calls"] == 8 + 8  # main answers + the other r* of each sample


def test_open_questions(run):
    q = build_report(run)["open_questions"]
    sc = q["score_vs_correctness"]
    assert sc["iterations"] == 11 and sc["unscored"] == 1
    assert sc["pearson_r"] == pytest.approx(0.3988, abs=1e-4)
    assert sc["mean_score_when_correct"] == 6.2 and sc["mean_score_when_wrong"] == pytest.approx(25 / 6, abs=1e-4)
    assert sc["accuracy_by_score"]["2"] == {"n": 3, "accuracy": pytest.approx(1 / 3, abs=1e-4)}
    assert q["correction"]["first_iteration_wrong"] == 3
    assert q["correction"]["r_star_correct"] == {"n": 3, "count": 2, "rate": 0.6667}
    assert q["correction"]["some_iteration_correct"]["count"] == 3
    assert q["reinforcement"] == {"n": 6, "count": 2, "rate": 0.3333}  # s1's 8 and s3's 6 on wrong answers
    assert q["leaks"]["iterations"] == {"n": 12, "count": 1, "rate": 0.0833} and q["leaks"]["r_star"]["count"] == 1
    assert q["iterations_used"] == {"1": 1, "2": 2, "3": 1}
    assert q["by_iteration"]["1"] == {"reached": 4, "mean_score": pytest.approx(13 / 3, abs=1e-4), "scored": 3, "own_answer_accuracy": 0.25}


def test_report_files_and_cli(run):
    result = CliRunner().invoke(app, ["bench", "report", str(run)])
    assert result.exit_code == 0, result.output
    md = (run / "report.md").read_text()
    assert "| `t` | 0.250 → 0.500 (+100.0%) |" in md
    assert "What the paper could not answer" in md and "2 of 3 (66.7%)" in md
    assert json.loads((run / "report.json").read_text())["table1"]["tables"]["steps"]["t"]["av_compositional"]["aurelia"] == 0.5
    for name in ("table1.png", "iterations.png", "ablation.png"):
        assert (run / name).read_bytes()[:4] == b"\x89PNG"
    assert write_report(run)["plots"]


def test_report_of_a_folder_that_is_no_run(tmp_path):
    result = CliRunner().invoke(app, ["bench", "report", str(tmp_path)])
    assert result.exit_code == 2 and "not a benchmark run folder" in result.output
