"""Plain-text parsing, repair prompt, clamping and parse failures — never a crash."""

from __future__ import annotations

import pytest
from fakes import REASONING_JSON, all_text, fake

from aurelia import Context, build_graph
from aurelia.parsing import parse_choice, parse_evaluation, parse_reasoning


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ('```json\n{"score": 7, "rationale": "close"}\n```', 7),
        ('Sure! {"score": 4, "rationale": "wrong colour"} Hope that helps', 4),
        ("Score: 7/10. The caption matches the colours.", 7),
        ("I'd give it 6 out of 10 because the audio is right.", 6),
        ("**Score:** 9\nRationale: all good", 9),
        ("Score: eight. Mostly right.", 8),
        ("seven out of ten", 7),
        ("Score: 15", 15),
    ],
)
def test_parse_evaluation_variants(text, score):
    ev = parse_evaluation(text)
    assert ev is not None and ev.score == score


def test_parse_evaluation_rejects_text_without_a_score():
    assert parse_evaluation("The caption is fine, I think.") is None


def test_parse_evaluation_keeps_rationale():
    ev = parse_evaluation("Score: 3/10. The caption invents a dog.")
    assert "invents a dog" in ev.rationale


def test_parse_reasoning_from_numbered_lines():
    text = "1. Check the colours -> red then blue\n2. Listen to the end\nAnswer: silence after 4s\nFinal answer: green"
    r = parse_reasoning(text)
    assert [s.step for s in r.steps] == ["Check the colours", "Listen to the end"]
    assert r.steps[0].answer == "red then blue" and r.steps[1].answer == "silence after 4s"
    assert r.final_answer == "green"


def test_parse_reasoning_json_and_garbage():
    assert parse_reasoning(REASONING_JSON).final_answer == "green"
    assert parse_reasoning("no structure here at all") is None


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("B", 1),
        ("(C) green", 2),
        ("The answer is D.", 3),
        ("Answer: a", 0),
        ("It is green.", 2),
        ("**B**", 1),
        ("The answer is a green screen", 2),
        ("A blue screen is shown.", 1),
        ("Answer: A blue screen", 1),
        ("A) red", 0),
        ("A. red", 0),
    ],
)
def test_parse_choice_restricted_to_valid_options(text, index):
    assert parse_choice(text, ["red", "blue", "green", "black"]) == index


@pytest.mark.parametrize(
    "text", ["E", "I am not sure", "", "red or blue", "Answer: Z", "A red or blue screen", "Answer: A red or blue screen"]
)
def test_parse_choice_never_defaults(text):
    assert parse_choice(text, ["red", "blue", "green", "black"]) is None


def _run(clip, evaluator, **ctx):
    graph = build_graph(models={"generator": fake(REASONING_JSON), "summarizer": fake("c"), "evaluator": evaluator, "target": fake("A")})
    return graph.invoke({"video": str(clip), "question": "colour?"}, context=Context(**ctx))


def test_repair_prompt_recovers_an_unparseable_evaluation(clip):
    ev = fake("I liked it a lot.", '{"score": 8, "rationale": "fixed"}')
    out = _run(clip, ev)
    it = out["iterations"][0]
    assert it["score"] == 8 and it["status"]["evaluator"] == "repaired"
    assert "could not be read" in all_text(ev.seen[1])


def test_parse_failure_scores_one_and_continues(clip):
    out = _run(clip, fake("no idea"), threshold=6, max_iterations=2)
    assert [it["score"] for it in out["iterations"]] == [1, 1]
    assert all(it["status"]["evaluator"] == "failed" for it in out["iterations"])
    assert "parse failure" in out["iterations"][0]["rationale"]
    assert out["stop_reason"] == "max_iterations"


def test_out_of_range_scores_are_clamped_and_recorded(clip):
    out = _run(clip, fake("Score: 15/10. Perfect."))
    it = out["iterations"][0]
    assert it["score"] == 10 and it["raw_score"] == 15 and "clamped" in it["rationale"]
    out = _run(clip, fake('{"score": 0, "rationale": "nothing matches"}'), max_iterations=1)
    assert out["iterations"][0]["score"] == 1 and out["iterations"][0]["raw_score"] == 0


def test_unparseable_reasoning_is_kept_as_text(clip):
    graph = build_graph(
        models={"generator": fake("just prose", "still prose"), "summarizer": fake("c"), "evaluator": fake("Score: 9"), "target": fake("A")}
    )
    out = graph.invoke({"video": str(clip), "question": "colour?"}, context=Context())
    it = out["iterations"][0]
    assert it["status"]["generator"] == "failed"
    assert it["reasoning"]["steps"][0]["step"] == "just prose"  # the first reply, not the failed repair
