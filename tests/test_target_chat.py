"""The chat-model target back-end and the shared injection prompt (no torch needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import all_text, block_types, fake
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from aurelia.errors import InputError, ModelCallError
from aurelia.media.prepare import prepare_media
from aurelia.models.registry import as_role_model
from aurelia.targets import TargetSample, TargetSettings, injection_text, load_target, target_prompt
from aurelia.targets.api import read_reasoning
from aurelia.targets.chat import ChatTarget

CHOICES = ["red", "blue", "green", "black"]
STAR = {
    "steps": [{"step": "Look at the colour after 4s", "answer": "green"}, {"step": "Listen for silence", "answer": "silent from 4s"}],
    "final_answer": "green",
}


@pytest.fixture(scope="module")
def media(clip):
    return prepare_media(str(clip))


def sample(media, inject="steps", reasoning=STAR, choices=CHOICES, sample_id=None):
    return TargetSample(media, "What colour is the screen while the audio is silent?", choices, reasoning, inject, sample_id)


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        ("steps", ["Reasoning steps to consider:", "1. Look at the colour after 4s"], ["Answer: green", "Final answer"]),
        ("steps_answers", ["1. Look at the colour after 4s\n   Answer: green"], ["Final answer"]),
        ("full", ["Answer: silent from 4s", "Final answer: green"], []),
        ("none", [], ["Look at the colour", "Reasoning", "Final answer"]),
    ],
)
def test_injection_per_mode(mode, present, absent):
    user = target_prompt("Which colour?", CHOICES, STAR, mode).user
    for text in present:
        assert text in user
    for text in absent:
        assert text not in user
    assert "Choices:\n(A) red\n(B) blue\n(C) green\n(D) black" in user
    assert user.endswith("Answer with the letter of the correct choice (A, B, C, D) only.")
    assert "\n\n\n" not in user


def test_open_question_instruction_and_no_reasoning():
    user = target_prompt("What happens?", None, None, "steps").user
    assert user == "Question: What happens?\n\nAnswer with a word or a short phrase."
    assert injection_text(None, "full") == ""


def test_chat_target_answers_with_r_star_in_the_prompt(media):
    model = fake("The answer is (C).", "B", "I cannot tell.")
    target = ChatTarget(model)
    results = target.answer_batch(
        [sample(media, sample_id="a"), sample(media, inject="none", sample_id="b"), sample(media, inject="full", sample_id="c")]
    )
    assert [r.sample_id for r in results] == ["a", "b", "c"]
    prompts = {all_text(m) for m in model.seen}
    assert sum("Look at the colour after 4s" in p for p in prompts) == 2  # steps and full, not the baseline
    assert {(r.inject, bool(r.injected)) for r in results} == {("steps", True), ("none", False), ("full", True)}
    answers = {(r.letter, r.answer) for r in results}  # replies arrive in any order (concurrent batch)
    assert answers == {(None, None), ("B", "blue"), ("C", "green")}  # an unclear reply is not an answer
    for r in results:
        assert r.received.labels() == ["text", "digest"] and r.received.digest  # text-only model: the digest
        assert r.timing["batch_size"] == 3 and r.error is None


def test_chat_target_sends_frames_and_audio_to_a_model_that_takes_them(media):
    model = fake("(C)")
    target = load_target(as_role_model(model, name="mm", modalities=frozenset({"image", "audio"})))
    result = target.answer(sample(media))
    assert block_types(model.seen[0]) >= {"image", "audio"}
    assert result.received.labels() == ["text", f"frames:{len(media['keyframe_times'])}", "audio"]
    assert result.received.audio_seconds == pytest.approx(6.0, abs=0.1) and not result.received.digest
    assert result.letter == "C"


class Broken(FakeListChatModel):
    def _call(self, *args, **kwargs):
        raise RuntimeError("server unavailable")


def test_chat_target_records_failures_and_answer_raises(media):
    target = ChatTarget(Broken(responses=["x"]))
    (result,) = target.answer_batch([sample(media)])
    assert result.error == "model 'target-instance' failed (RuntimeError: server unavailable)" and result.answer is None
    assert result.attempts == 1  # not a transient fault: never retried
    with pytest.raises(ModelCallError, match="RuntimeError: server unavailable"):  # typed, one line in the CLI
        target.answer(sample(media))


def test_sample_validation(media):
    with pytest.raises(InputError, match="inject must be one of"):
        sample(media, inject="everything")
    with pytest.raises(InputError, match="question is empty"):
        TargetSample(media, "  ")
    with pytest.raises(InputError, match="needs a reasoning"):
        TargetSample(media, "q?", inject="steps")  # never a silent baseline
    assert TargetSample(media, "q?").inject == "none" and TargetSample(media, "q?", reasoning=STAR).inject == "steps"
    with pytest.raises(InputError, match="max_new_tokens"):
        TargetSettings(max_new_tokens=0)


def test_reasoning_file_forms(tmp_path):
    plain = tmp_path / "r.json"
    plain.write_text(json.dumps(STAR))
    run_result = tmp_path / "run.json"
    run_result.write_text(json.dumps({"question": "q", "reasoning_star": STAR}))
    assert read_reasoning(plain) == read_reasoning(run_result) == STAR
    bad = tmp_path / "bad.json"
    bad.write_text('{"answer": "green"}')
    with pytest.raises(InputError, match=r"bad\.json: no reasoning in it"):
        read_reasoning(bad)
    with pytest.raises(InputError, match="reasoning file not found"):
        read_reasoning(tmp_path / "missing.json")


def test_default_path_does_not_import_torch():
    code = (
        "import sys, aurelia, aurelia.cli, aurelia.targets, aurelia.targets.chat, aurelia.nodes.target;"
        "from aurelia.graph.builder import make_graph; make_graph();"
        "print(sorted(m for m in ('torch', 'transformers', 'torchvision') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


def test_candidate_audio_clips_are_recorded_for_an_audio_target(clip, tone_wav):
    from aurelia.media.prepare import prepare_media
    from aurelia.models.registry import as_role_model

    media = prepare_media(str(clip), audio_candidates=[str(tone_wav), str(clip)])
    listener = fake("B")
    target = ChatTarget(as_role_model(listener, modalities=frozenset({"text", "image", "audio"})))
    result = target.answer(TargetSample(media, "Which audio fits?", ["A", "B"], None, "none"))
    assert result.received.audio_options == 2 and "audio_options:2" in result.received.labels()
    sent = [b.get("text", "") for m in listener.seen[0] if not isinstance(m.content, str) for b in m.content]
    assert any(t.startswith("Audio option A") for t in sent) and any(t.startswith("Audio option B") for t in sent)
