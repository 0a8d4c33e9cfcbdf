"""The answer readers against batteries of replies written as models write them (verbose,
hedged, JSON, markdown, ``<think>`` blocks, other scripts), each with the reading a careful
person gives: multiple choice, open words read into a closed answer set, evaluator scores (read
as the evaluator node reads them, under both prompt sets). The tables live in
``tests/data/readers/*.yaml``; the held-out tables (``*.heldout.yaml``) are not tuned on and
are measured by ``benchmarks/reader_accuracy.py``, whose targets are checked here too."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("reader_accuracy", ROOT / "benchmarks" / "reader_accuracy.py")
reader_accuracy = importlib.util.module_from_spec(_spec)
sys.modules["reader_accuracy"] = reader_accuracy  # dataclasses look their module up
_spec.loader.exec_module(reader_accuracy)

CASES = {reader: reader_accuracy.load(reader, "train") for reader in reader_accuracy.READERS}


def test_each_battery_holds_at_least_200_replies_and_100_held_out():
    for reader in reader_accuracy.READERS:
        replies = {(c.source.split("#")[1], c.reply) for c in CASES[reader]}
        held_out = {c.source for c in reader_accuracy.load(reader, "heldout")}
        assert len(replies) >= 200 and len(held_out) >= 100, reader
        assert {c.want for c in CASES[reader]} & {None}, f"{reader}: the battery must hold unreadable replies too"


@pytest.mark.parametrize("case", CASES["choice"], ids=lambda c: c.source)
def test_multiple_choice_battery(case):
    assert reader_accuracy.read(case) == case.want


@pytest.mark.parametrize("case", CASES["open"], ids=lambda c: c.source)
def test_open_words_battery(case):
    assert reader_accuracy.read(case) == case.want


@pytest.mark.parametrize("case", CASES["score"], ids=lambda c: f"{c.source}-{c.prompt_set}")
def test_score_battery(case):
    assert reader_accuracy.read(case) == case.want


def test_held_out_targets():
    """Issue 17's targets on the held-out replies: multiple choice >= 97% and never a different
    letter, open words >= 95%, scores >= 95% on each prompt set."""
    tallies = {}
    for reader in reader_accuracy.READERS:
        tallies.update(reader_accuracy.tally(reader_accuracy.load(reader, "heldout")))
    assert tallies["choice"].accuracy >= 0.97 and tallies["choice"].other_letter == 0, tallies["choice"].misses
    assert tallies["open"].accuracy >= 0.95, tallies["open"].misses
    assert {k for k in tallies if k.startswith("score/")} == {"score/aurelia", "score/paper"}
    for key in ("score/aurelia", "score/paper"):
        assert tallies[key].accuracy >= 0.95, tallies[key].misses
