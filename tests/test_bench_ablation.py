"""T/τ ablations: the prefix rule against hand-computed trajectories, and ``--ablate`` end to end
(target calls only, one per distinct r*, no agent call)."""

from __future__ import annotations

import json

import pytest
from test_bench_runner import results, write_manifest

from aurelia.bench import run_benchmark
from aurelia.bench.ablation import distinct_reasonings, grid, prefix, reasoning_hash
from aurelia.testing.chat import TimedFakeChat, agent_models, calls_of


def r(tag: str) -> dict:
    return {"steps": [{"step": f"look {tag}", "answer": tag}], "final_answer": tag}


def trajectory(scores: list[int | None]) -> dict:
    """Iteration i takes generator 1 s + summarizer 2 s + evaluator 3 s, and feedback 0.5 s after it."""
    iterations = [{"iteration": i, "score": s, "reasoning": r(f"it{i}")} for i, s in enumerate(scores, start=1)]
    calls = []
    for i in range(1, len(scores) + 1):
        calls += [
            {"role": role, "iteration": i, "seconds": sec} for role, sec in (("generator", 1.0), ("summarizer", 2.0), ("evaluator", 3.0))
        ]
        if i < len(scores):
            calls.append({"role": "feedback", "iteration": i, "seconds": 0.5})
    return {"iterations": iterations, "calls": calls}


# scores 3, 7, 5, 9, 4 (T = 5)
FULL = trajectory([3, 7, 5, 9, 4])


@pytest.mark.parametrize(
    ("tau", "t", "used", "best", "seconds", "calls", "reason"),
    [
        (6, 5, 2, 2, 12.5, 7, "threshold"),  # 7 ≥ 6 at iteration 2: 6 + 0.5 + 6
        (8, 5, 4, 4, 25.5, 15, "threshold"),  # 9 at iteration 4
        (10, 5, 5, 4, 32.0, 19, "max_iterations"),  # never 10: all five, r* the 9
        (10, 3, 3, 2, 19.0, 11, "max_iterations"),  # first three: 3, 7, 5 -> the 7
        (4, 1, 1, 1, 6.0, 3, "max_iterations"),  # T' = 1: the first, whatever its score
        (3, 5, 1, 1, 6.0, 3, "threshold"),  # 3 ≥ 3 at once
        (8, 3, 3, 2, 19.0, 11, "max_iterations"),
    ],
)
def test_prefix_by_hand(tau, t, used, best, seconds, calls, reason):
    p = prefix(FULL, tau, t)
    assert (p.used, p.best, p.seconds, p.calls, p.stop_reason) == (used, best, seconds, calls, reason)
    assert p.reasoning == r(f"it{best}")


def test_unscored_iterations_are_never_r_star_unless_all_are():
    p = prefix(trajectory([None, 5, None]), 10, 3)
    assert p.best == 2 and p.used == 3
    assert prefix(trajectory([None, None]), 6, 2).best == 1
    assert prefix(trajectory([None, 8]), 6, 2).used == 2  # an unscored iteration never stops the loop


def test_ties_keep_the_earliest():
    assert prefix(trajectory([5, 5, 4]), 9, 3).best == 1


def test_a_trajectory_that_stopped_early_does_not_cover_later_prefixes():
    stopped = trajectory([3, 7])  # an early-stopping run with τ = 6 and T = 5
    assert prefix(stopped, 6, 5).used == 2
    assert prefix(stopped, 8, 5) is None  # would have needed iterations 3…5
    assert prefix(stopped, 8, 2).used == 2  # T' = 2 is covered
    assert prefix(FULL, 6, 6).used == 2  # stops within the five that were run
    assert prefix(FULL, 10, 6) is None  # would need a sixth


def test_grid_and_distinct_reasonings():
    cells = grid(FULL, 5)
    assert len(cells) == 5 * 7
    assert {p.best for p in cells.values()} == {1, 2, 4}
    assert set(distinct_reasonings(FULL, 5)) == {reasoning_hash(r(f"it{i}")) for i in (1, 2, 4)}


SCORES = (3, 7, 5)


@pytest.mark.parametrize("threshold", [6, 10])  # the run's own r*: the prefix at τ (stops at 2), or all three (10 never reached)
def test_ablate_makes_no_agent_call(tmp_path, clip, threshold):
    """A first run with early stop off (full trajectories, T = 3), then the same run with --ablate."""
    manifest = write_manifest(tmp_path, clip, 3)
    reasonings = tuple(json.dumps(r(f"it{i}")) for i in (1, 2, 3))
    args = dict(cache=tmp_path / "c.sqlite", concurrency=1, context={"early_stop": False, "threshold": threshold, "max_iterations": 3})
    first = agent_models(scores=SCORES, reasonings=reasonings)
    run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", models=first, **args)
    assert calls_of(first) == 3 * 9  # all three iterations, whatever the score
    again, target = agent_models(scores=SCORES, reasonings=reasonings), TimedFakeChat(responses=["C"])
    result = run_benchmark(manifest, {"t": target}, tmp_path / "run", models=again, ablate=True, **args)
    check_ablation(result, again, target, tmp_path, used=2 if threshold == 6 else 3)


def check_ablation(result, again, target, tmp_path, used):
    # the grid's distinct r*: iteration 1 (T' = 1) and iteration 2 (every other cell); the main
    # answer already gives iteration 2's, so one target call per sample
    assert calls_of(again) == 0 and result.counts.agent_calls == 0
    assert result.counts.target_calls == 3 == target.calls
    steps = [row for row in results(tmp_path / "run") if row["inject"] == "steps"]
    assert {row["best_iteration"] for row in steps} == {2} and {row["iterations_used"] for row in steps} == {used}
    rerun = run_benchmark(
        tmp_path / "manifest.jsonl", {"t": target}, tmp_path / "run", models=again, ablate=True, cache=tmp_path / "c.sqlite", concurrency=1,
        context=json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["context"],
    )  # fmt: skip
    assert rerun.counts.target_calls == 0 and rerun.counts.samples_skipped == 3
