"""The statistics of a report: is a gain signal or noise? Pure functions over per-sample outcomes.

- An accuracy's 95% interval is Wilson's score interval (:func:`wilson`): it stays inside [0, 1]
  and keeps close to its nominal coverage for small n and for accuracies near 0 or 1, where the
  textbook normal interval does not.
- A corpus-level metric (CIDEr: one number for the whole corpus, not a mean of per-sample
  numbers) gets a percentile bootstrap interval over samples (:func:`bootstrap_interval`):
  resample the sample ids with replacement, recompute the corpus metric, take the 2.5% and 97.5%
  quantiles.
- A condition against zero-shot on the *same* samples is paired: the difference of the two
  metrics with a paired bootstrap interval (both conditions scored on the same resampled ids,
  :func:`paired_interval`), and for right/wrong answers the exact two-sided McNemar test
  (:func:`mcnemar_p`), which looks only at the samples whose verdict flipped (:func:`flips`).

Every bootstrap is seeded (:data:`SEED`), so a report is the same each time it is built. numpy
draws the resamples; the binomial sums are exact integers (``math.comb``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction

import numpy as np

LEVEL = 0.95
Z95 = 1.959963984540054  # the standard normal's 97.5% quantile
SEED = 0
RESAMPLES = 2000  # per-sample metrics (accuracy): a vectorised mean, instant at any n
CORPUS_RESAMPLES = 200  # corpus metrics recompute e.g. CIDEr per resample: modest, so reports stay fast

Interval = tuple[float, float]


def wilson(correct: int, n: int, z: float = Z95) -> Interval | None:
    """Wilson's score interval for ``correct`` of ``n`` (95% by default); None when n is 0."""
    if n <= 0:
        return None
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be within 0..{n}, got {correct}")
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_p(up: int, down: int) -> float:
    """Exact two-sided McNemar p-value for ``up`` wrong→right and ``down`` right→wrong flips.

    Under "the condition changes nothing", each of the n = up + down discordant samples flips
    either way with probability 1/2: p = min(1, 2 · P(X ≤ min(up, down))), X ~ Binomial(n, 1/2).
    With no discordant sample there is no evidence either way: p = 1."""
    if up < 0 or down < 0:
        raise ValueError("flip counts are never negative")
    n, k = up + down, min(up, down)
    if n == 0:
        return 1.0
    tail = Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)
    return float(min(Fraction(1), 2 * tail))


def flips(before: Mapping[str, bool], after: Mapping[str, bool]) -> tuple[list[str], list[str]]:
    """(ids wrong→right, ids right→wrong) over the ids both mappings hold, in ``before``'s order."""
    both = [i for i in before if i in after]
    return [i for i in both if not before[i] and after[i]], [i for i in both if before[i] and not after[i]]


def _indices(n: int, resamples: int, seed: int, chunk: int = 256) -> Iterator[np.ndarray]:
    """The resampled positions, ``chunk`` resamples (rows) at a time, from one seeded generator."""
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, resamples - start), n))


def _quantiles(values: np.ndarray, level: float) -> Interval:
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def bootstrap_interval(
    n: int,
    statistic: Callable[[Sequence[int]], float],
    *,
    resamples: int = CORPUS_RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Interval | None:
    """Percentile bootstrap interval of ``statistic`` over n samples: ``statistic`` gets the
    positions (0..n-1, with repeats) of one resample and recomputes the metric on them."""
    if n <= 0:
        return None
    values = np.array([statistic(row.tolist()) for rows in _indices(n, resamples, seed) for row in rows], dtype=float)
    return _quantiles(values, level)


def paired_interval(
    before: Sequence[float],
    after: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Interval | None:
    """Paired bootstrap interval of mean(after) − mean(before) for per-sample values (1/0 for
    right/wrong) of the same samples in the same order."""
    if len(before) != len(after):
        raise ValueError("paired values need the same samples on both sides")
    if not before:
        return None
    diff = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    means = np.concatenate([diff[rows].mean(axis=1) for rows in _indices(len(diff), resamples, seed)])
    return _quantiles(means, level)


def paired_corpus_interval(
    n: int,
    before: Callable[[Sequence[int]], float],
    after: Callable[[Sequence[int]], float],
    *,
    resamples: int = CORPUS_RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> Interval | None:
    """Paired bootstrap interval of after − before for corpus metrics: both are recomputed on the
    same resampled positions each time."""
    return bootstrap_interval(n, lambda idx: after(idx) - before(idx), resamples=resamples, seed=seed, level=level)


def paired_accuracy(
    before: Mapping[str, bool],
    after: Mapping[str, bool],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> dict[str, object]:
    """Everything the report says about one condition against zero-shot on right/wrong answers,
    over the ids both sides hold: n, both accuracies, the difference with its paired bootstrap
    interval, the exact McNemar p-value and the two flip lists."""
    ids = [i for i in before if i in after]
    b = [float(before[i]) for i in ids]
    a = [float(after[i]) for i in ids]
    up, down = flips({i: before[i] for i in ids}, {i: after[i] for i in ids})
    n = len(ids)
    ci = paired_interval(b, a, resamples=resamples, seed=seed, level=level)
    return {
        "n": n,
        "before": sum(b) / n if n else None,
        "after": sum(a) / n if n else None,
        "difference": (sum(a) - sum(b)) / n if n else None,
        "ci": list(ci) if ci else None,
        "mcnemar_p": mcnemar_p(len(up), len(down)),
        "wrong_to_right": up,
        "right_to_wrong": down,
    }


def repeated_accuracy(
    verdicts: Sequence[Sequence[bool]],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> dict[str, object]:
    """An accuracy measured R times (``--repeats``): ``verdicts[i][k]`` says whether sample i's
    k-th answer was right. The mean over the repeats of each repeat's accuracy, their standard
    deviation across repeats (n − 1 in the denominator), each repeat's accuracy, and a percentile
    bootstrap interval over samples of the mean of each sample's correctness across its repeats
    (a sample is resampled with all its repeats, so the interval holds both sources of noise)."""
    if not verdicts:
        return {"n": 0, "k": 0, "mean": None, "sd": None, "per_repeat": [], "ci": None}
    m = np.asarray(verdicts, dtype=float)  # samples × repeats
    per_repeat = m.mean(axis=0)
    per_sample = m.mean(axis=1)
    means = np.concatenate([per_sample[rows].mean(axis=1) for rows in _indices(len(per_sample), resamples, seed)])
    return {
        "n": m.shape[0],
        "k": m.shape[1],
        "mean": float(per_repeat.mean()),
        "sd": float(per_repeat.std(ddof=1)) if m.shape[1] > 1 else 0.0,
        "per_repeat": [float(v) for v in per_repeat],
        "ci": _quantiles(means, level),
    }
