"""What each condition costs per sample, read from its records alone, next to its accuracy.

A condition is a target × inject mode. Its cost per answered sample has two parts:

- **target work**, counted from the record: as many calls as its ``calls`` list holds, else its
  ``target_calls`` (a self-consistency record answers with K sampled calls), else one; tokens
  and seconds from those call entries when they report them, else the record's own ``usage``
  and ``seconds``.
- **agent work**: the calls that made the r* the record injected. The engine writes
  ``reasoning_calls`` and ``reasoning_seconds`` with every answer to its sample's own r*; a record
  that names an r* (``rhash``) without them is read off the stored trajectory of the sample
  whose r* it is: its own, or the one it names in ``placebo_of`` (a placebo makes no agent call
  of its own: it borrows an r* made for another sample). An r* is generated once per sample and
  *shared* by every condition that injects it: the conditions' agent figures are not additive,
  and :func:`r_star_cost` counts it once for the run. A record that names no r* (zero-shot, a
  control that asks the target alone) costs no agent call.

No mode name is known here: a new inject mode is costed by what its records hold. Failed answers
are counted apart (``failed``), never averaged in; the ``--ablate`` grid's answers are not a
condition and are left out (the report's ``cost`` section counts them per target).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aurelia.bench.ablation import prefix, prefix_calls
from aurelia.models.structured import total_usage


@dataclass
class Spend:
    """The work behind one answered sample (or a sum of them)."""

    target_calls: int = 0
    target_seconds: float = 0.0
    target_usage: list[Mapping[str, int] | None] = field(default_factory=list)
    agent_calls: int = 0
    agent_seconds: float = 0.0
    agent_usage: list[Mapping[str, int] | None] = field(default_factory=list)


def star_calls(
    record: Mapping[str, Any], trajectory: Mapping[str, Any] | None, *, early_stop: bool, threshold: int, max_iterations: int
) -> list[Mapping[str, Any]]:
    """The agent calls behind the r* a record injected: none when it names no r* or says it made
    none; the prefix's calls when the r* was a prefix of a full trajectory (early stop off)."""
    calls = list((trajectory or {}).get("calls") or [])
    if "reasoning_calls" in record:
        n = int(record["reasoning_calls"] or 0)
        if n == 0:
            return []
        return calls if n == len(calls) else prefix_calls(calls, int(record.get("iterations_used") or 0))
    if not record.get("rhash") or trajectory is None:
        return []
    return run_star_calls(trajectory, early_stop=early_stop, threshold=threshold, max_iterations=max_iterations)


def run_star_calls(trajectory: Mapping[str, Any], *, early_stop: bool, threshold: int, max_iterations: int) -> list[Mapping[str, Any]]:
    """The calls that made the run's own r* (τ, T): all of them, or the prefix's with early stop off."""
    calls = list(trajectory.get("calls") or [])
    p = None if early_stop or not trajectory.get("iterations") else prefix(trajectory, threshold, max_iterations)
    return calls if p is None else prefix_calls(calls, p.used)


def spend(record: Mapping[str, Any], agent: list[Mapping[str, Any]]) -> Spend:
    """One answered record's work: its target calls (its ``calls`` list, else ``target_calls``, else one) and the agent calls of its r*."""
    own = record.get("calls")
    counted = record.get("target_calls")
    if isinstance(own, list) and own:
        usages = [c.get("usage") for c in own if isinstance(c, Mapping)]
        seconds = [c.get("seconds") for c in own if isinstance(c, Mapping) and c.get("seconds") is not None]
        target_usage = usages if any(usages) else [record.get("usage")]
        target_seconds = sum(seconds) if seconds else record.get("seconds") or 0.0
        n = len(own)
    else:
        n = counted if isinstance(counted, int) and not isinstance(counted, bool) and counted >= 0 else 1
        target_usage, target_seconds = [record.get("usage")], record.get("seconds") or 0.0
    recorded = record.get("reasoning_seconds")
    return Spend(
        target_calls=n,
        target_seconds=float(target_seconds),
        target_usage=target_usage,
        agent_calls=int(record["reasoning_calls"]) if "reasoning_calls" in record else len(agent),
        agent_seconds=float(recorded) if recorded is not None else float(sum(c.get("seconds") or 0.0 for c in agent)),
        agent_usage=[c.get("usage") for c in agent],
    )


def per_sample(usages: Iterable[Mapping[str, int] | None], n: int) -> dict[str, float]:
    """Reported tokens per sample ({} when nothing reported any: unknown, not zero)."""
    return {k: round(v / n, 1) for k, v in total_usage(usages).items()} if n else {}


def summary(spends: list[Spend], failed: int) -> dict[str, Any]:
    """Per-sample means over a condition's answered samples."""
    n = len(spends)

    def avg(values: Iterable[float], digits: int = 4) -> float | None:
        return round(sum(values) / n, digits) if n else None

    target, agent = avg(s.target_calls for s in spends), avg(s.agent_calls for s in spends)
    t_sec, a_sec = avg(s.target_seconds for s in spends), avg(s.agent_seconds for s in spends)
    return {
        "samples": n,
        "failed": failed,
        "target_calls_per_sample": target,
        "agent_calls_per_sample": agent,
        "calls_per_sample": None if target is None or agent is None else round(target + agent, 4),
        "tokens_per_sample": {
            "target": per_sample((u for s in spends for u in s.target_usage), n),
            "agent": per_sample((u for s in spends for u in s.agent_usage), n),
        },
        "seconds_per_sample": {
            "target": t_sec,
            "agent": a_sec,
            "total": None if t_sec is None or a_sec is None else round(t_sec + a_sec, 4),
        },
    }


def condition_cost(records: list[Mapping[str, Any]], trajectories: Mapping[str, Mapping[str, Any]], **star: Any) -> dict[str, Any]:
    """A condition's cost per sample over all its records, and per task (``by_task``); ``star``:
    ``early_stop``, ``threshold``, ``max_iterations`` of the run (which r* its answers used)."""
    spends: dict[str, list[Spend]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for r in records:
        if r.get("error"):
            failed[r["task"]] += 1
            continue
        source = r.get("placebo_of") or r["id"]  # whose r* the record injected
        spends[r["task"]].append(spend(r, star_calls(r, trajectories.get(source), **star)))
    tasks = sorted(set(spends) | set(failed))
    everything = [s for t in tasks for s in spends[t]]
    return summary(everything, sum(failed.values())) | {"by_task": {t: summary(spends[t], failed[t]) for t in tasks}}


def r_star_cost(trajectories: Mapping[str, Mapping[str, Any]], *, early_stop: bool, threshold: int, max_iterations: int) -> dict[str, Any]:
    """r* generation counted once per sample (the run's own τ and T), over the samples whose
    trajectory recorded its calls (an imported r* has none)."""
    spends = []
    for trajectory in trajectories.values():
        if trajectory.get("calls"):
            agent = run_star_calls(trajectory, early_stop=early_stop, threshold=threshold, max_iterations=max_iterations)
            seconds = sum(c.get("seconds") or 0.0 for c in agent)
            spends.append(Spend(agent_calls=len(agent), agent_seconds=seconds, agent_usage=[c.get("usage") for c in agent]))
    s = summary(spends, 0)
    return {
        "samples": s["samples"],
        "agent_calls_per_sample": s["agent_calls_per_sample"],
        "agent_seconds_per_sample": s["seconds_per_sample"]["agent"],
        "agent_tokens_per_sample": s["tokens_per_sample"]["agent"],
    }
