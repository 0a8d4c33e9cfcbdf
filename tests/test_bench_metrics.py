"""Metrics: answer reading and normalisation, and the COCO caption metrics against values
computed by hand (BLEU, ROUGE-L) or known properties (METEOR, CIDEr: identical text scores the
maximum, orderings). The Java-backed scorers run once per module."""

from __future__ import annotations

import math

import pytest

from aurelia.bench.metrics import (
    accuracy,
    ambiguous_answer,
    answer_letter,
    coco_scores,
    is_correct,
    normalize_answer,
    read_output,
)
from aurelia.parsing import parse_choice

COLOURS = ["red", "blue", "green", "yellow"]
OPTIONS = [f"Audio option {x}" for x in "ABCD"]

# (raw output, choices, chosen letter or None): the reader never defaults to a letter
CHOICE_CASES = [
    ("B", COLOURS, "B"),
    ("(C)", COLOURS, "C"),
    ("The answer is D.", COLOURS, "D"),
    ("answer: b", COLOURS, "B"),
    ("**A**", COLOURS, "A"),
    ("Option C", COLOURS, "C"),
    ("blue", COLOURS, "B"),
    ("It is green, clearly.", COLOURS, "C"),
    ("A blue screen is shown.", COLOURS, "B"),  # the article 'A' is not option A
    ("red or blue", COLOURS, None),  # two option texts: ambiguous
    ("E", COLOURS, None),  # not a valid letter for four choices
    ("", COLOURS, None),
    ("I don't know.", COLOURS, None),
    ("Audio option B", OPTIONS, "B"),
    ("D", OPTIONS, "D"),
]


@pytest.mark.parametrize(("text", "choices", "letter"), CHOICE_CASES)
def test_choice_reader_table(text: str, choices: list[str], letter: str | None) -> None:
    assert read_output(text, "choice", choices) == letter
    index = parse_choice(text, choices)
    assert (None if index is None else "ABCD"[index]) == letter


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("Two", "2"),
        ("twenty-one", "21"),
        ("Twenty one guitars", "21 guitars"),
        ("The piano.", "piano"),
        ("An accordion!", "accordion"),
        ("3.5 seconds", "3.5 seconds"),
        ("Yes, it is.", "yes it is"),
        ("  LEFT  ", "left"),
        ("left_hand", "left hand"),
        ("zero", "0"),
    ],
)
def test_open_word_normalisation(raw: str, norm: str) -> None:
    assert normalize_answer(raw) == norm


def test_short_answers_are_read_from_the_first_line_and_unparsed_is_wrong() -> None:
    assert read_output("Answer: Two.\nBecause I heard two beeps.", "short") == "2"
    assert read_output("  \n ", "short") is None
    assert is_correct("2", "short", "two", []) is True
    assert is_correct("3", "short", "two", []) is False
    assert is_correct("violin", "short", "fiddle", ["violin"]) is True  # references are accepted answers too
    assert is_correct(None, "short", "two", []) is False


def test_choice_answers_by_text_or_letter_and_unparsed_is_wrong() -> None:
    assert answer_letter("green", COLOURS) == "C"
    assert answer_letter("Green ", COLOURS) == "C"
    assert answer_letter("d", COLOURS) == "D"
    assert answer_letter("purple", COLOURS) is None
    assert is_correct("C", "choice", "green", [], COLOURS) is True
    assert is_correct(None, "choice", "green", [], COLOURS) is False
    assert ambiguous_answer("A", ["B", "A"]) is True
    assert ambiguous_answer("A", ["A", "B"]) is False
    assert accuracy([True, False, False, True]) == 0.5
    assert accuracy([]) == 0.0


def test_open_answers_have_no_per_sample_verdict() -> None:
    assert read_output("Final answer: A red screen.\n", "caption") == "A red screen."
    assert is_correct("a red screen", "caption", "a red screen", []) is None


@pytest.fixture(scope="module")
def coco() -> dict[str, dict[str, float]]:
    """Every corpus the tests below look at, scored once each (PTB tokenizer + METEOR on Java)."""
    corpora = {
        "cat": ({"s": "The cat sat on the mat."}, {"s": ["the cat is on the mat"]}),
        "short": ({"s": "the cat"}, {"s": ["the cat sat on the mat"]}),
        "corpus": ({"a": "the cat sat on the mat", "b": "a dog"}, {"a": ["the cat is on the mat"], "b": ["a dog runs"]}),
        "multi": ({"s": "a red screen"}, {"s": ["the blue sky at night", "a red screen"]}),
    }
    captions = {
        "x": "a red screen with a low tone",
        "y": "dogs bark loudly in the park",
        "z": "three short beeps over a green picture",
    }
    refs = {k: [v] for k, v in captions.items()}
    corpora["same"] = (captions, refs)
    corpora["close"] = ({"x": "a red screen with a high tone", "y": "dogs bark in the park", "z": "three beeps over a green picture"}, refs)
    corpora["far"] = ({"x": "violins", "y": "an empty kitchen", "z": "snow falls slowly"}, refs)
    return {name: coco_scores(c, r) for name, (c, r) in corpora.items()}


def test_bleu_and_rouge_match_a_hand_computation(coco: dict[str, dict[str, float]]) -> None:
    cat = coco["cat"]
    # unigrams 5/6 (sat is not in the reference), bigrams 3/5, trigrams 1/4, equal lengths (no brevity penalty)
    assert cat["Bleu_1"] == pytest.approx(5 / 6, abs=1e-6)
    assert cat["Bleu_2"] == pytest.approx(math.sqrt(5 / 6 * 3 / 5), abs=1e-6)
    assert cat["Bleu_3"] == pytest.approx((5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3), abs=1e-6)
    assert cat["Bleu_4"] < 0.01  # no 4-gram matches
    # LCS "the cat on the mat" = 5 of 6 tokens both ways
    assert cat["ROUGE_L"] == pytest.approx(5 / 6, abs=1e-6)
    # brevity penalty exp(1 - 6/2) with every candidate n-gram matching
    assert coco["short"]["Bleu_1"] == pytest.approx(math.exp(-2), abs=1e-6)
    assert coco["short"]["Bleu_2"] == pytest.approx(math.exp(-2), abs=1e-6)


def test_bleu_is_computed_at_corpus_level(coco: dict[str, dict[str, float]]) -> None:
    # pooled counts: 7 of 8 unigrams match; candidate length 8 against reference length 9
    expected = 7 / 8 * math.exp(1 - 9 / 8)
    assert coco["corpus"]["Bleu_1"] == pytest.approx(expected, abs=1e-6)
    sentence_mean = (5 / 6 + 1.0 * math.exp(1 - 3 / 2)) / 2
    assert abs(coco["corpus"]["Bleu_1"] - sentence_mean) > 0.03


def test_several_references_take_the_best_match(coco: dict[str, dict[str, float]]) -> None:
    multi = coco["multi"]
    assert multi["Bleu_1"] == pytest.approx(1.0, abs=1e-6)
    assert multi["Bleu_3"] == pytest.approx(1.0, abs=1e-6)
    assert multi["ROUGE_L"] == pytest.approx(1.0)
    assert multi["METEOR"] == pytest.approx(1.0)


def test_identical_text_scores_the_maximum_and_orderings_hold(coco: dict[str, dict[str, float]]) -> None:
    same, close, far = coco["same"], coco["close"], coco["far"]
    assert same["CIDEr"] == pytest.approx(10.0, abs=1e-6)  # CIDEr-D's maximum (scaled by 10)
    assert same["METEOR"] == pytest.approx(1.0)
    for metric in ("Bleu_1", "Bleu_4", "ROUGE_L"):
        assert same[metric] == pytest.approx(1.0, abs=1e-6)
    for metric in ("Bleu_1", "METEOR", "ROUGE_L", "CIDEr"):
        assert same[metric] > close[metric] > far[metric], metric
    assert far["METEOR"] == pytest.approx(0.0, abs=1e-6)
    assert far["CIDEr"] == pytest.approx(0.0, abs=1e-6)
