"""T/τ ablations at zero agent cost: a run with smaller T' or another τ' is a prefix of a full trajectory.

A trajectory recorded with early stop off holds all T iterations. The run for (τ', T') stops at
the first iteration whose score is at least τ' within the first T' iterations (else after T');
its r* is the argmax over that prefix (earliest on ties; unscored iterations only when every
one is unscored), and its latency is the sum of the recorded call times of the prefix: every
call of the iterations it ran, less the feedback call made after its last one. A prefix that
needs iterations the trajectory does not hold (it stopped early, or T' is larger) is not covered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aurelia.bench.db import dumps
from aurelia.nodes.evaluator import best_index

TAUS = tuple(range(4, 11))  # τ' of the paper's Table 6


@dataclass(frozen=True)
class Prefix:
    """The run a (τ', T') setting would have made, read off a full trajectory."""

    threshold: int
    max_iterations: int
    used: int  # iterations run
    best: int  # r*'s iteration, from 1
    reasoning: dict[str, Any]
    seconds: float  # recorded agent call times of the prefix
    calls: int  # agent calls of the prefix
    stop_reason: str  # "threshold" or "max_iterations"


def best_of(iterations: list[Mapping[str, Any]]) -> int:
    """Index of r* among ``iterations``: the graph's own argmax over the scored ones (the first
    iteration when none is scored)."""
    scored = [i for i, it in enumerate(iterations) if it.get("score") is not None]
    return scored[best_index([iterations[i] for i in scored])] if scored else 0  # type: ignore[arg-type]


def prefix_calls(calls: Iterable[Mapping[str, Any]], used: int) -> list[Mapping[str, Any]]:
    """The calls of the first ``used`` iterations; feedback after the last one never happens."""
    return [c for c in calls if c["iteration"] < used or (c["iteration"] == used and c["role"] != "feedback")]


def prefix(trajectory: Mapping[str, Any], threshold: int, max_iterations: int) -> Prefix | None:
    """The (τ', T') run within ``trajectory``; None when it needs iterations that were not run."""
    iterations = list(trajectory.get("iterations") or [])
    head = iterations[:max_iterations]
    hit = next((i for i, it in enumerate(head) if it.get("score") is not None and it["score"] >= threshold), None)
    if hit is None and len(iterations) < max_iterations:
        return None
    used = hit + 1 if hit is not None else max_iterations
    ran = iterations[:used]
    best = best_of(ran)
    calls = prefix_calls(trajectory.get("calls") or [], used)
    return Prefix(
        threshold=threshold,
        max_iterations=max_iterations,
        used=used,
        best=best + 1,
        reasoning=ran[best]["reasoning"],
        seconds=round(sum(c["seconds"] for c in calls), 3),
        calls=len(calls),
        stop_reason="threshold" if hit is not None else "max_iterations",
    )


def grid(trajectory: Mapping[str, Any], max_iterations: int, taus: Iterable[int] = TAUS) -> dict[tuple[int, int], Prefix]:
    """Every covered (T', τ') with T' = 1…T and τ' in ``taus``."""
    out = {}
    for t in range(1, max_iterations + 1):
        for tau in taus:
            p = prefix(trajectory, tau, t)
            if p is not None:
                out[(t, tau)] = p
    return out


def reasoning_hash(reasoning: Mapping[str, Any] | None) -> str:
    """The identity of an r* by content: equal reasonings are answered once."""
    return hashlib.sha256(dumps(reasoning or {}).encode()).hexdigest()[:16]


def distinct_reasonings(trajectory: Mapping[str, Any], max_iterations: int, taus: Iterable[int] = TAUS) -> dict[str, dict[str, Any]]:
    """hash -> r* over the whole ablation grid, each content once."""
    return {reasoning_hash(p.reasoning): p.reasoning for p in grid(trajectory, max_iterations, taus).values()}
