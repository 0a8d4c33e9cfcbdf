"""The actor-critic loop with LangChain fake chat models on a real synthetic clip."""

from __future__ import annotations

import json

import pytest
from fakes import REASONING_JSON, all_text, block_types, fake

from aurelia import Context, build_graph, build_reasoning_graph
from aurelia.models.registry import as_role_model


def reasoning(tag: str) -> str:
    return json.dumps(
        {
            "steps": [{"step": f"look {tag}", "answer": f"seen {tag}"}, {"step": f"listen {tag}", "answer": f"heard {tag}"}],
            "final_answer": f"final {tag}",
        }
    )


def evaluation(score: int, why: str = "ok") -> str:
    return json.dumps({"score": score, "rationale": why})


def run_graph(clip, *, generator, summarizer, evaluator, target=None, feedback=None, reasoning_only=False, choices=None, **ctx):
    models = {"generator": generator, "summarizer": summarizer, "evaluator": evaluator}
    if target is not None:
        models["target"] = target
    if feedback is not None:
        models["feedback"] = feedback
    builder = build_reasoning_graph if reasoning_only else build_graph
    graph = builder(models=models)
    inputs = {"video": str(clip), "question": "What colour is the screen when the audio is silent?", "choices": choices}
    return graph.invoke(inputs, context=Context(**ctx))


def test_stops_at_threshold(clip):
    ev = fake(evaluation(3, "caption says purple; the frames are red, blue, green"), evaluation(8, "matches"))
    out = run_graph(
        clip,
        generator=fake(reasoning("a"), reasoning("b")),
        summarizer=fake("cap a", "cap b"),
        evaluator=ev,
        target=fake("C"),
        threshold=6,
        max_iterations=5,
    )
    assert [it["score"] for it in out["iterations"]] == [3, 8]
    assert out["stop_reason"] == "threshold"
    assert out["best_iteration"] == 2
    assert out["answer"] == "C" and out["answer_choice"] is None  # open question: the reply itself


def test_stops_at_max_iterations(clip):
    out = run_graph(
        clip,
        generator=fake(reasoning("x")),
        summarizer=fake("cap"),
        evaluator=fake(evaluation(2)),
        target=fake("A"),
        threshold=9,
        max_iterations=3,
    )
    assert len(out["iterations"]) == 3
    assert out["stop_reason"] == "max_iterations"


def test_best_reasoning_is_argmax_not_last(clip):
    gen = fake(reasoning("first"), reasoning("second"), reasoning("third"))
    ev = fake(evaluation(4), evaluation(7), evaluation(5))
    out = run_graph(clip, generator=gen, summarizer=fake("c1", "c2", "c3"), evaluator=ev, target=fake("B"), threshold=9, max_iterations=3)
    assert [it["score"] for it in out["iterations"]] == [4, 7, 5]
    assert out["best_iteration"] == 2
    assert out["reasoning_star"]["final_answer"] == "final second"


def test_ties_keep_the_earliest(clip):
    gen = fake(reasoning("first"), reasoning("second"))
    out = run_graph(
        clip,
        generator=gen,
        summarizer=fake("c"),
        evaluator=fake(evaluation(5), evaluation(5)),
        target=fake("A"),
        threshold=9,
        max_iterations=2,
    )
    assert out["best_iteration"] == 1
    assert out["reasoning_star"]["final_answer"] == "final first"


def test_feedback_carries_score_and_rationale(clip):
    gen = fake(reasoning("a"), reasoning("b"))
    ev = fake(evaluation(3, "the caption invents a dog barking"), evaluation(9))
    run_graph(clip, generator=gen, summarizer=fake("c"), evaluator=ev, target=fake("A"), threshold=6)
    assert len(gen.seen) == 2
    second = all_text(gen.seen[1])
    assert "3/10" in second
    assert "the caption invents a dog barking" in second
    assert "look a" in second  # the previous reasoning is shown
    assert "3/10" not in all_text(gen.seen[0])


def test_llm_critic_feedback_reaches_generator(clip):
    gen = fake(reasoning("a"), reasoning("b"))
    critic = fake("Mention the green frames after 4 seconds.")
    run_graph(
        clip,
        generator=gen,
        summarizer=fake("c"),
        evaluator=fake(evaluation(2, "wrong colours"), evaluation(9)),
        target=fake("A"),
        feedback=critic,
        threshold=6,
    )
    assert len(critic.seen) == 1
    assert "wrong colours" in all_text(critic.seen[0])
    assert "Mention the green frames after 4 seconds." in all_text(gen.seen[1])


def test_summarizer_never_sees_media_and_evaluator_never_sees_reasoning(clip):
    gen = fake(REASONING_JSON)
    summ = fake("The screen turns green and the sound stops.")
    ev = fake(evaluation(8))
    vision_eval = as_role_model(ev, name="vision-eval", modalities=frozenset({"text", "image"}))
    out = run_graph(clip, generator=gen, summarizer=summ, evaluator=vision_eval, target=fake("C"))
    summ_text = all_text(summ.seen[0])
    assert block_types(summ.seen[0]) == {"text"}
    assert "Measured facts" not in summ_text and "Keyframe" not in summ_text
    assert "Look at the colour after 6s" in summ_text  # it does get the reasoning
    ev_msgs = ev.seen[0]
    assert "image" in block_types(ev_msgs)
    ev_text = all_text(ev_msgs)
    assert "The screen turns green and the sound stops." in ev_text
    assert "Look at the colour after 6s" not in ev_text and "silent from 6s" not in ev_text
    received = {c["role"]: c["received"] for c in out["calls"]}
    assert any(r.startswith("frames:") for r in received["evaluator"])
    assert "digest" in received["generator"]  # text-only generator reasons over the measured digest
    assert received["summarizer"] == ["text"]  # the reasoning as text, never the media


def test_reasoning_only_mode_has_no_target(clip):
    out = run_graph(clip, generator=fake(REASONING_JSON), summarizer=fake("c"), evaluator=fake(evaluation(7)), reasoning_only=True)
    assert out["reasoning_star"]["final_answer"] == "green"
    assert "answer" not in out and "target" not in out
    assert {c["role"] for c in out["calls"]} == {"generator", "summarizer", "evaluator"}


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        ("steps", ["look x"], ["seen x", "Final answer"]),
        ("steps_answers", ["look x", "seen x"], ["Final answer"]),
        ("full", ["look x", "seen x", "Final answer: final x"], []),
        ("none", [], ["look x", "seen x", "Final answer"]),
    ],
)
def test_injection_modes_change_what_the_target_sees(clip, mode, present, absent):
    target = fake("B")
    out = run_graph(
        clip,
        generator=fake(reasoning("x")),
        summarizer=fake("c"),
        evaluator=fake(evaluation(9)),
        target=target,
        inject=mode,
        choices=["red", "green"],
    )
    text = all_text(target.seen[0])
    for needle in present:
        assert needle in text
    for needle in absent:
        assert needle not in text
    assert "(A) red" in text and "(B) green" in text
    assert out["answer"] == "green" and out["answer_choice"] == "B"


def test_unparseable_target_answer_is_not_defaulted(clip):
    out = run_graph(
        clip,
        generator=fake(REASONING_JSON),
        summarizer=fake("c"),
        evaluator=fake(evaluation(9)),
        target=fake("I cannot tell."),
        choices=["red", "green"],
    )
    assert out["answer"] is None and out["answer_choice"] is None
    assert out["target"]["raw"] == "I cannot tell." and out["target"]["parsed"] is False


def test_state_holds_references_not_bytes(clip):
    vision = as_role_model(fake(evaluation(9)), name="v", modalities=frozenset({"text", "image", "audio"}))
    out = run_graph(clip, generator=fake(REASONING_JSON), summarizer=fake("c"), evaluator=vision, target=fake("A"))
    blob = json.dumps(out, default=str)
    assert len(blob) < 20_000
    assert "base64" not in blob and "/9j/" not in blob  # no JPEG payloads
    assert out["media"]["sha256"] and out["media"]["video"] == str(clip)


def test_iterations_record_latency_per_role(clip):
    out = run_graph(
        clip,
        generator=fake(reasoning("a")),
        summarizer=fake("c"),
        evaluator=fake(evaluation(2)),
        target=fake("A"),
        threshold=9,
        max_iterations=2,
    )
    for it in out["iterations"]:
        assert set(it["seconds"]) == {"generator", "summarizer", "evaluator"}
        assert all(v >= 0 for v in it["seconds"].values())
    assert [c["role"] for c in out["calls"]].count("generator") == 2


def test_async_invoke_and_iteration_stream(clip):
    import asyncio

    graph = build_graph(
        models={
            "generator": fake(reasoning("a")),
            "summarizer": fake("c"),
            "evaluator": fake(evaluation(3), evaluation(7)),
            "target": fake("A"),
        }
    )

    async def go():
        events = []
        async for mode, chunk in graph.astream({"video": str(clip), "question": "q?"}, context=Context(), stream_mode=["custom", "values"]):
            if mode == "custom":
                events.append(chunk)
        return events

    events = asyncio.run(go())
    assert [(e["iteration"], e["score"], e["stop_reason"]) for e in events] == [(1, 3, None), (2, 7, "threshold")]


def test_a_failing_model_becomes_a_typed_error(clip):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from aurelia.errors import ModelCallError

    class Broken(FakeListChatModel):
        def _call(self, *args, **kwargs):
            raise ConnectionError("server went away")

    graph = build_graph(models={"generator": Broken(responses=["x"]), "summarizer": fake("c"), "evaluator": fake(evaluation(9))})
    with pytest.raises(ModelCallError, match=r"generator-instance.*ConnectionError: server went away"):
        graph.invoke({"video": str(clip), "question": "q?"}, context=Context())


def test_zero_shot_baseline_skips_the_loop(clip):
    gen, target = fake(reasoning("x")), fake("B")
    out = run_graph(
        clip, generator=gen, summarizer=fake("c"), evaluator=fake(evaluation(9)), target=target, inject="none", choices=["red", "green"]
    )
    assert gen.seen == [] and out["iterations"] == [] and out["stop_reason"] == "baseline"
    assert out["answer_choice"] == "B" and out["target"]["injected"] == ""
