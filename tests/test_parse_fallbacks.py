"""Plain-text parsing, repair prompt and parse failures — never a crash (the scoring and
answer-reading rules have their own tables in test_reading.py)."""

from __future__ import annotations

import pytest
from fakes import REASONING_JSON, all_text, fake

from aurelia import Context, build_graph
from aurelia.parsing import parse_evaluation, parse_reasoning


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


def _run(clip, evaluator, **ctx):
    graph = build_graph(models={"generator": fake(REASONING_JSON), "summarizer": fake("c"), "evaluator": evaluator, "target": fake("A")})
    return graph.invoke({"video": str(clip), "question": "colour?"}, context=Context(**ctx))


def test_repair_prompt_recovers_an_unparseable_evaluation(clip):
    ev = fake("I liked it a lot.", '{"score": 8, "rationale": "fixed"}')
    out = _run(clip, ev)
    it = out["iterations"][0]
    assert it["score"] == 8 and it["status"]["evaluator"] == "repaired"
    assert "could not be read" in all_text(ev.seen[1])


def test_unparseable_reasoning_is_kept_as_text(clip):
    graph = build_graph(
        models={"generator": fake("just prose", "still prose"), "summarizer": fake("c"), "evaluator": fake("Score: 9"), "target": fake("A")}
    )
    out = graph.invoke({"video": str(clip), "question": "colour?"}, context=Context())
    it = out["iterations"][0]
    assert it["status"]["generator"] == "failed"
    assert it["reasoning"]["steps"][0]["step"] == "just prose"  # the first reply, not the failed repair
