"""Faithful where it matters, measurable where we differ (real graphs, LangChain fakes or a
scripted OpenAI-compatible server): the paper prompt set, feedback modes, unscored and
re-asked evaluations, runs without early stop, temperature records, leaks, the injection
position and the optional answer extractor."""

from __future__ import annotations

import json

import pytest
from fakes import all_text, block_types, fake
from openai_stub import openai_stub

from aurelia import Context, build_graph, build_reasoning_graph
from aurelia.errors import InputError
from aurelia.models.messages import PROVIDER_FORBIDS, with_generation_settings
from aurelia.models.registry import as_role_model
from aurelia.models.spec import ModelSpec
from aurelia.run import run
from aurelia.tracing import run_meta

QUESTION = "What colour is the screen when the audio is silent?"
CHOICES = ["red", "blue", "green", "black"]


def reasoning(tag: str, final: str = "C") -> str:
    steps = [{"step": f"look {tag}", "answer": f"saw-{tag}"}, {"step": f"listen {tag}", "answer": f"heard-{tag}"}]
    return json.dumps({"steps": steps, "final_answer": final})


def evaluation(score, why: str = "ok") -> str:
    return json.dumps({"score": score, "rationale": why})


def loop(clip, *, evaluator, generator=None, summarizer=None, feedback=None, target=None, choices=None, **ctx):
    models = {"generator": generator or fake(reasoning("a"), reasoning("b"), reasoning("c")), "summarizer": summarizer or fake("cap")}
    models["evaluator"] = evaluator
    if feedback is not None:
        models["feedback"] = feedback
    if target is not None:
        models["target"] = target
    graph = build_graph(models=models) if target is not None else build_reasoning_graph(models=models)
    return graph.invoke({"video": str(clip), "question": QUESTION, "choices": choices}, context=Context(**ctx))


# ----------------------------------------------------------------------------- the paper set
def test_paper_prompt_set_reproduces_the_authors_loop(clip):
    gen = fake(reasoning("a", "green"), reasoning("b", "green"))
    summ = fake("A screen that turns green as the tone stops.")
    ev = fake('{"score": 4}', '{"score": 7}')
    out = loop(clip, generator=gen, summarizer=summ, evaluator=ev, prompt_set="paper", choices=CHOICES, threshold=6)
    assert [it["score"] for it in out["iterations"]] == [4, 7] and out["stop_reason"] == "threshold"
    assert out["settings"]["prompt_set"] == "paper" and out["settings"]["feedback_mode"] == "score_only"
    first, retry = all_text(gen.seen[0]), all_text(gen.seen[1])
    assert "Task 1" in first and "without revealing" in first and "Task 3" in first
    # the retry replaces the first prompt: previous steps, question and score, and the tasks again
    assert "Earlier you wrote these reasoning steps" in retry and "look a" in retry and "4/10" in retry and QUESTION in retry
    assert "You are given a video" not in retry and "saw-a" not in retry and "comment" not in retry
    # the summarizer gets steps, step answers, the final answer and the question
    summ_text = all_text(summ.seen[0])
    for part in ("look a", "saw-a", "Final answer: green", QUESTION, "world knowledge"):
        assert part in summ_text
    # the evaluator rates similarity with a score only, and sees no reasoning
    ev_text = all_text(ev.seen[0])
    assert "similar" in ev_text and '{"score"' in ev_text and "rationale" not in ev_text and "look a" not in ev_text
    assert out["iterations"][0]["rationale"] == ""


def test_default_set_gives_the_summarizer_the_final_answer_and_allows_needed_knowledge(clip):
    gen, summ = fake(reasoning("a", "green")), fake("cap")
    loop(clip, generator=gen, summarizer=summ, evaluator=fake(evaluation(9)), choices=CHOICES)
    assert "Final answer: green" in all_text(summ.seen[0]) and "every perceptual claim" in all_text(summ.seen[0])
    system = all_text(gen.seen[0])
    assert "world knowledge where the question needs it" in system and "No step's text may state the final answer" in system


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        ("score_only", ["3/10"], ["Evaluator's comment", "invents a dog"]),
        ("rationale", ["3/10", "Evaluator's comment: invents a dog"], ["Critic"]),
        ("critic", ["3/10", "invents a dog", "Critic's advice: mention the green frames"], []),
    ],
)
def test_feedback_modes(clip, mode, present, absent):
    gen = fake(reasoning("a"), reasoning("b"))
    critic = fake("mention the green frames") if mode == "critic" else None
    out = loop(clip, generator=gen, evaluator=fake(evaluation(3, "invents a dog"), evaluation(9)), feedback=critic, feedback_mode=mode)
    retry = all_text(gen.seen[1])
    for text in present:
        assert text in retry
    for text in absent:
        assert text not in retry
    assert out["settings"]["feedback_mode"] == mode


def test_feedback_mode_defaults_and_impossible_combinations(clip):
    out = loop(clip, evaluator=fake(evaluation(9)), feedback=fake("advice"))
    assert out["settings"]["feedback_mode"] == "critic"  # a critic model alone selects the critic
    with pytest.raises(InputError, match="needs the critic's model"):
        loop(clip, evaluator=fake(evaluation(9)), feedback_mode="critic")
    with pytest.raises(InputError, match="'paper' prompt set does not ask for"):
        loop(clip, evaluator=fake(evaluation(9)), prompt_set="paper", feedback_mode="rationale")
    with pytest.raises(InputError, match="prompt_set must be one of aurelia, paper"):
        loop(clip, evaluator=fake(evaluation(9)), prompt_set="mine")


# ----------------------------------------------------------------------------- unscored evaluations
def test_an_unreadable_evaluation_is_reasked_once_then_unscored(clip):
    # each ask is a reply and its repair prompt's reply: four unreadable replies -> unscored
    ev = fake("no idea", "still none", "really none", "none at all", evaluation(3, "misses the beeps"))
    gen = fake(reasoning("a"), reasoning("b"), reasoning("c"))
    out = loop(clip, generator=gen, evaluator=ev, threshold=6, max_iterations=2)
    first, second = out["iterations"]
    assert first["score"] is None and first["raw_score"] is None and first["status"]["evaluator"] == "unscored"
    assert len(first["evaluator_attempts"]) == 2 and "no score could be read" in first["evaluator_attempts"][1]["problem"]
    assert "cannot be used" in all_text(ev.seen[2])  # the re-ask says why
    assert second["score"] == 3
    assert out["best_iteration"] == 2  # an unscored iteration is never r* while a scored one exists
    assert out["stop_reason"] == "max_iterations"  # it counted toward T
    assert second["feedback_in"] is None and "scored" not in all_text(gen.seen[1])  # no stand-in criticism
    assert [c["role"] for c in out["calls"]].count("evaluator") == 3


def test_every_iteration_unscored_keeps_the_first(clip):
    out = loop(clip, evaluator=fake("no score here"), max_iterations=2)
    assert [it["score"] for it in out["iterations"]] == [None, None]
    assert out["best_iteration"] == 1 and out["stop_reason"] == "max_iterations" and out["would_stop_at"] is None


def test_out_of_range_scores_are_reasked_not_clamped(clip):
    ev = fake("Score: 85", evaluation(4, "the beeps are missing"))
    out = loop(clip, evaluator=ev, max_iterations=1)
    it = out["iterations"][0]
    assert it["score"] == 4 and it["raw_score"] == 4 and it["status"]["evaluator"] == "parsed"
    assert [a["raw_score"] for a in it["evaluator_attempts"]] == [85, 4]
    assert "85 is outside 1 to 10" in all_text(ev.seen[1])
    # out of range twice: unscored, the raw number kept, and a 0-100 "85" never passes τ
    out = loop(clip, evaluator=fake("Score: 85/100", "Score: 90"), threshold=6, max_iterations=1)
    it = out["iterations"][0]
    assert it["score"] is None and it["raw_score"] == 90 and out["stop_reason"] == "max_iterations" and not it["reached_threshold"]


# ----------------------------------------------------------------------------- early stop
def test_no_early_stop_runs_all_iterations_and_records_where_it_would_stop(clip):
    out = loop(clip, evaluator=fake(evaluation(7), evaluation(3), evaluation(8)), early_stop=False, threshold=6, max_iterations=3)
    assert [it["score"] for it in out["iterations"]] == [7, 3, 8]
    assert [it["reached_threshold"] for it in out["iterations"]] == [True, False, True]
    assert out["stop_reason"] == "max_iterations" and out["would_stop_at"] == 1 and out["best_iteration"] == 3
    assert out["settings"]["early_stop"] is False
    out = loop(clip, evaluator=fake(evaluation(7)), threshold=6, max_iterations=3)
    assert len(out["iterations"]) == 1 and out["stop_reason"] == "threshold" and out["would_stop_at"] == 1


# ----------------------------------------------------------------------------- leaks
def test_leaks_are_recorded_per_iteration(clip):
    leaky = json.dumps({"steps": [{"step": "The screen is green when silent", "answer": "yes"}], "final_answer": "green"})
    out = loop(clip, generator=fake(leaky), evaluator=fake(evaluation(9)), choices=CHOICES)
    assert out["iterations"][0]["leaks"] == [{"step": 1, "kind": "final_answer", "text": "green"}]


# ----------------------------------------------------------------------------- temperature
def test_temperature_and_seed_are_set_and_recorded_for_every_call(clip):
    """Model strings through a real OpenAI client: what is recorded is what went over the wire."""

    def reply(model: str, text: str, body: dict) -> str:
        return {"gen": reasoning("x"), "sum": "A red, then blue, then green screen.", "ev": evaluation(3), "tgt": "C"}[model]

    with openai_stub(reply) as stub:
        ctx = {
            f"{role}_model": stub.url(name)
            for role, name in [("generator", "gen"), ("summarizer", "sum"), ("evaluator", "ev"), ("target", "tgt")]
        }
        out = run(clip, QUESTION, choices=CHOICES, context={**ctx, "max_iterations": 2, "threshold": 9, "temperature": 0.9, "seed": 7})
        sent = [(r["model"], r.get("temperature"), r.get("seed")) for r in stub.requests]
    generator = [(c["temperature"], c["seed"]) for c in out["calls"] if c["role"] == "generator"]
    assert generator == [(0.0, 7), (0.9, 7)]  # iteration 1 greedy, later iterations sample
    assert all(c["temperature"] == 0.0 and c["seed"] == 7 for c in out["calls"] if c["role"] in ("summarizer", "evaluator", "target"))
    assert [s for s in sent if s[0] == "gen"] == [("gen", 0.0, 7), ("gen", 0.9, 7)]
    assert {s for s in sent if s[0] != "gen"} == {("sum", 0.0, 7), ("ev", 0.0, 7), ("tgt", 0.0, 7)}
    assert out["answer_choice"] == "C"


def test_temperature_records_say_when_it_cannot_be_set():
    class Sampler(type(fake("x"))):
        temperature: float = 1.0
        seed: int = 0

    tuned = with_generation_settings(as_role_model(Sampler(responses=["x"])), None, 0.7, 3)
    assert tuned.sampling() == {"temperature": 0.7, "seed": 3} and tuned.model.temperature == 0.7
    forbidding = as_role_model(Sampler(responses=["x"]))
    forbidding = type(forbidding)(forbidding.model, ModelSpec("openai:o4-mini", "openai", "o4-mini", frozenset({"text"})))
    assert with_generation_settings(forbidding, 64, 0.7, 3).sampling() == {"temperature": PROVIDER_FORBIDS, "seed": 3}
    assert with_generation_settings(as_role_model(fake("x")), None, 0.7, 3).sampling() == {"temperature": None, "seed": None}


# ----------------------------------------------------------------------------- injection position
@pytest.mark.parametrize("position", ["before_question", "after_choices"])
def test_injection_position_and_media_before_text_in_the_chat_target(clip, position):
    target = fake("C")
    vision = as_role_model(target, name="vision-target", modalities=frozenset({"text", "image"}))
    out = loop(clip, evaluator=fake(evaluation(9)), target=vision, choices=CHOICES, inject_position=position)
    message = target.seen[0][-1]
    kinds = [b["type"] for b in message.content]
    assert kinds[-1] == "text" and "image" in kinds[:-1]  # media first, the prompt text last: as the HF target
    text = message.content[-1]["text"]
    before = text.index("Reasoning steps") < text.index("Question:")
    assert before == (position == "before_question")
    assert out["target"]["inject_position"] == position and out["settings"]["inject_position"] == position
    assert "image" in block_types([message])


# ----------------------------------------------------------------------------- extractor
def test_extractor_reads_what_the_rules_cannot_recorded_apart(clip):
    extractor = fake("C")
    target = fake("Hard to say; the last colour on screen, I suppose, the one of grass.")
    graph = build_graph(
        models={
            "generator": fake(reasoning("a")),
            "summarizer": fake("cap"),
            "evaluator": fake(evaluation(9)),
            "target": target,
            "extractor": extractor,
        }
    )
    out = graph.invoke({"video": str(clip), "question": QUESTION, "choices": CHOICES}, context=Context())
    assert out["answer_choice"] is None and out["answer"] is None  # the rules: unparsed
    assert out["answer_extracted"]["letter"] == "C" and out["answer_extracted"]["source"] == "extractor"
    assert "the one of grass" in all_text(extractor.seen[0]) and "(C) green" in all_text(extractor.seen[0])
    assert [c["role"] for c in out["calls"]][-1] == "extractor"
    # a reply the rules read is not sent to the extractor
    graph = build_graph(
        models={
            "generator": fake(reasoning("a")),
            "summarizer": fake("cap"),
            "evaluator": fake(evaluation(9)),
            "target": fake("B"),
            "extractor": extractor,
        }
    )
    out = graph.invoke({"video": str(clip), "question": QUESTION, "choices": CHOICES}, context=Context())
    assert out["answer_extracted"] == {"answer": "blue", "letter": "B", "source": "rules"} and len(extractor.seen) == 1


def test_extractor_that_names_no_option_stays_unparsed(clip):
    graph = build_graph(
        models={
            "generator": fake(reasoning("a")),
            "summarizer": fake("cap"),
            "evaluator": fake(evaluation(9)),
            "target": fake("I cannot tell."),
            "extractor": fake("NONE"),
        }
    )
    out = graph.invoke({"video": str(clip), "question": QUESTION, "choices": CHOICES}, context=Context())
    assert out["answer_extracted"]["letter"] is None and out["answer_extracted"]["source"] is None


# ----------------------------------------------------------------------------- records
def test_settings_are_in_every_result_and_trace_metadata(clip):
    out = loop(
        clip, evaluator=fake('{"score": 8}'), prompt_set="paper", early_stop=False, max_iterations=1, inject_position="before_question"
    )
    settings = out["settings"]
    assert settings["prompt_set"] == "paper" and settings["feedback_mode"] == "score_only" and settings["early_stop"] is False
    assert settings["inject_position"] == "before_question" and len(settings["prompts"]) == 12 and settings["extractor"] == ""
    meta = run_meta(out, Context(prompt_set="paper"), 1)
    assert {k: meta[k] for k in ("prompt_set", "feedback_mode", "early_stop", "inject_position")} == {
        "prompt_set": "paper",
        "feedback_mode": "score_only",
        "early_stop": False,
        "inject_position": "before_question",
    }
