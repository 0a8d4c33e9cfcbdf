"""The report's statistics against values computed by hand or printed in the literature."""

from __future__ import annotations

import math

import pytest

from aurelia.bench.stats import bootstrap_interval, flips, mcnemar_p, paired_accuracy, paired_interval, wilson


@pytest.mark.parametrize(
    ("correct", "n", "low", "high"),
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (Wilson, no correction)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_the_textbook(correct, n, low, high):
    lo, hi = wilson(correct, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_wilson_edges():
    assert wilson(0, 0) is None
    assert wilson(20, 20)[1] == 1.0 and wilson(20, 20)[0] == pytest.approx(1 - 0.1611, abs=1e-4)
    with pytest.raises(ValueError):
        wilson(5, 4)


def test_mcnemar_is_the_binomial_sum_on_the_discordant_pairs():
    # b = 31 up, c = 18 down: 49 discordant samples, each a fair coin under the null
    direct = 2 * sum(math.comb(49, i) * 0.5**49 for i in range(19))
    assert mcnemar_p(31, 18) == pytest.approx(direct, rel=1e-12)
    assert mcnemar_p(31, 18) == pytest.approx(0.0854, abs=1e-4)
    assert mcnemar_p(18, 31) == mcnemar_p(31, 18)  # two-sided
    assert mcnemar_p(5, 0) == 2 / 32  # every flip one way: 2 · (1/2)^5
    assert mcnemar_p(3, 3) == 1.0 and mcnemar_p(0, 0) == 1.0  # never above 1; no flips, no evidence


def test_flips_and_paired_accuracy_by_hand():
    before = {"a": False, "b": True, "c": False, "d": True, "e": False, "f": True}
    after = {"a": True, "b": True, "c": True, "d": False, "e": False, "x": True}  # f unanswered after, x unknown before
    assert flips(before, after) == (["a", "c"], ["d"])
    out = paired_accuracy(before, after)
    assert out["n"] == 5 and out["before"] == 2 / 5 and out["after"] == 3 / 5 and out["difference"] == pytest.approx(1 / 5)
    assert out["wrong_to_right"] == ["a", "c"] and out["right_to_wrong"] == ["d"]
    assert out["mcnemar_p"] == 1.0  # 2 up, 1 down: 2 · P(X ≤ 1 | n 3) = 2 · 4/8
    lo, hi = out["ci"]
    assert lo <= out["difference"] <= hi and lo >= -1 and hi <= 1


def test_the_bootstrap_is_seeded_and_sane():
    before = [1.0, 0.0] * 200
    after = [1.0, 1.0] * 200  # every second sample flips up: difference 0.5, never less than 0
    ci = paired_interval(before, after)
    assert ci == paired_interval(before, after)  # the same seed, the same interval
    # difference of the flips' share: sd sqrt(.25/400) = 0.025, so about ±0.049
    assert ci[0] == pytest.approx(0.5 - 0.049, abs=0.01) and ci[1] == pytest.approx(0.5 + 0.049, abs=0.01)
    assert paired_interval([1.0] * 10, [1.0] * 10) == (0.0, 0.0)
    assert paired_interval([], []) is None
    with pytest.raises(ValueError):
        paired_interval([1.0], [1.0, 0.0])


def test_the_corpus_bootstrap_draws_the_same_resamples_as_the_paired_one():
    """A corpus metric that is a mean gives the vectorised paired interval exactly: same seed, same rows."""
    before = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    after = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0]
    diff = [a - b for a, b in zip(after, before, strict=True)]
    corpus = bootstrap_interval(len(diff), lambda idx: sum(diff[i] for i in idx) / len(idx), resamples=500)
    assert corpus == pytest.approx(paired_interval(before, after, resamples=500))
    assert bootstrap_interval(0, sum) is None
