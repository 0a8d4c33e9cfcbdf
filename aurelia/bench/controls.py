"""The benchmark's controls and equal-cost baselines, and a seeded subset of a manifest.

Beside the inject modes that show the target r*, three conditions ask whether r* is worth it:
``cot`` (the target reasons step by step itself, one call), ``sc`` (self-consistency: K sampled
answers, a majority vote of what the reader makes of them; K calls) and ``placebo`` (the r* of
*another* sample of the same task, injected as ``steps``: no agent call). If placebo gains as
much as r*, the gain comes from putting plausible reasoning in the prompt, not from its content.

Everything random here is seeded with strings (``random.Random("seed:task")``), so the same seed
gives the same subset and the same placebo donors on any machine and in any Python process.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import get_args

from aurelia.bench.manifest import Sample
from aurelia.bench.tasks import Task
from aurelia.errors import InputError
from aurelia.schemas import InjectMode

COT, SC, PLACEBO = "cot", "sc", "placebo"
# the modes that show the target a sample's own r* (placebo shows another's; cot and sc none)
STAR_MODES: tuple[str, ...] = tuple(m for m in get_args(InjectMode) if m != "none")


@dataclass(frozen=True)
class Controls:
    """How the controls run: K self-consistency answers at ``sc_temperature`` (seeds ``seed`` …
    ``seed + K - 1``), a chain of thought up to ``cot_max_tokens`` tokens, placebo donors and the
    manifest subset drawn with ``seed``."""

    sc_samples: int = 5
    sc_temperature: float = 0.7
    cot_max_tokens: int = 512
    seed: int = 0

    def check(self) -> None:
        if self.sc_samples < 1:
            raise InputError(f"--sc-samples must be at least 1, got {self.sc_samples}")
        if not 0.0 < self.sc_temperature <= 2.0:
            raise InputError(f"--sc-temperature must be above 0 (sampled answers) and at most 2, got {self.sc_temperature}")
        if self.cot_max_tokens < 1:
            raise InputError(f"--cot-max-tokens must be at least 1, got {self.cot_max_tokens}")

    def sc_seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.sc_samples)]


def vote(parsed: Iterable[str | None]) -> tuple[str | None, dict[str, int]]:
    """The majority of the answers read (unparsed ones do not vote) and the votes; a tie for the
    most votes, or no answer read at all, is unparsed (None), never a pick."""
    votes = Counter(p for p in parsed if p is not None)
    ranked = votes.most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None, dict(votes)
    return ranked[0][0], dict(votes)


def placebo_donors(ids_by_task: Mapping[str, Sequence[str]], seed: int) -> dict[str, str]:
    """Sample id -> the id whose r* it gets as placebo: a seeded derangement within each task (no
    sample gets its own): the task's ids in a seeded random order, each taking the next one's r*
    (one cycle through them). A task with a single such sample has no donor for it."""
    donors: dict[str, str] = {}
    for task, ids in sorted(ids_by_task.items()):
        order = sorted(dict.fromkeys(ids))
        if len(order) < 2:
            continue
        random.Random(f"{seed}:placebo:{task}").shuffle(order)
        donors.update({sid: order[(i + 1) % len(order)] for i, sid in enumerate(order)})
    return donors


def _shares(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """``n`` split over the groups in proportion to their sizes (largest remainder; ties by name),
    never more than a group holds."""
    total = sum(sizes.values())
    exact = {k: n * size / total for k, size in sizes.items()}
    out = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[: n - sum(out.values())]:
        out[k] += 1
    return {k: min(v, sizes[k]) for k, v in out.items()}


def stratified_ids(keys: Iterable[tuple[str, Sequence[str], str]], n: int, seed: int, tasks: Mapping[str, Task]) -> set[str] | None:
    """The ids of a seeded random subset of ``n`` samples given as (task, category, id), or None
    for all of them (there are no more than ``n``): ``n`` is split over the tasks in proportion to
    their sizes, then within a task that declares a breakdown over its categories likewise; each
    group is drawn with its own seeded generator from its ids in sorted order. Only the ids are
    held (a million of them are some tens of MB), never the samples."""
    if n < 1:
        raise InputError(f"--sample must be at least 1, got {n}")
    by_task: dict[str, dict[str, list[str]]] = {}  # task -> stratum -> ids
    total = 0
    for task, category, sid in keys:
        declared = task in tasks and bool(tasks[task].breakdown)
        stratum = sys.intern("/".join(category)) if declared else ""
        by_task.setdefault(task, {}).setdefault(stratum, []).append(sid)
        total += 1
    if n >= total:
        return None
    chosen: set[str] = set()
    for task, share in _shares({t: sum(map(len, strata.values())) for t, strata in by_task.items()}, n).items():
        strata = by_task[task]
        for stratum, k in _shares({c: len(group) for c, group in strata.items()}, share).items():
            ids = sorted(strata[stratum])
            chosen.update(random.Random(f"{seed}:sample:{task}:{stratum}").sample(ids, k))
    return chosen


def stratified_sample(samples: Sequence[Sample], n: int, seed: int, tasks: Mapping[str, Task]) -> list[Sample]:
    """:func:`stratified_ids` of samples in memory: the subset, in manifest order."""
    chosen = stratified_ids(((s.task, s.category, s.id) for s in samples), n, seed, tasks)
    return list(samples) if chosen is None else [s for s in samples if s.id in chosen]
