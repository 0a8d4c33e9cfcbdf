"""The target node in the graph and ``aurelia answer`` on the command line."""

from __future__ import annotations

import json

import pytest
from fakes import REASONING_JSON, all_text, fake
from typer.testing import CliRunner

import aurelia
from aurelia.cli import app

QUESTION = "What colour is the screen while the audio is silent?"
CHOICES = ["red", "blue", "green", "black"]


def loop_models() -> dict:
    """Fake agents for the loop: one iteration that scores above τ."""
    return {
        "generator": fake(REASONING_JSON),
        "summarizer": fake("Red, then blue, then green; a tone, then silence from 4 s."),
        "evaluator": fake('{"score": 8, "rationale": "matches"}'),
    }


def test_graph_with_a_chat_model_target(clip):
    target = fake("(C) green")
    result = aurelia.run(
        clip, QUESTION, choices=CHOICES, context={"max_iterations": 1, "inject": "full"}, models={**loop_models(), "target": target}
    )
    assert result["answer"] == "green" and result["answer_choice"] == "C"
    prompt = all_text(target.seen[0])
    assert "Look at the colour after 6s" in prompt and "Final answer: green" in prompt
    info = result["target"]
    assert info["parsed"] and info["inject"] == "full" and info["received"] == ["text", "digest"]
    assert info["sent"]["digest"] and info["seconds"] >= 0
    call = result["calls"][-1]
    assert call["role"] == "target" and call["received"] == ["text", "digest"] and call["status"] == "text"


@pytest.mark.hf
def test_graph_with_a_local_hf_omni_target(clip, tmp_path_factory):
    pytest.importorskip("torchvision")
    from tiny_hf import tiny_model

    omni = tiny_model("omni", tmp_path_factory)
    ctx = {"max_iterations": 1, "target_model": f"hf:{omni}", "max_tokens": 16, "target_max_tokens": 16, "inject": "steps_answers"}
    result = aurelia.run(clip, QUESTION, choices=CHOICES, context=ctx, models=loop_models())
    info = result["target"]
    assert info["model"] == f"hf:{omni}" and info["received"][0] == "text" and info["received"][1].startswith("video:")
    assert info["received"][2] == "audio"
    sent = info["sent"]
    assert sent["audio_in_video"] and sent["media_tokens"]["audio"] == 150 and sent["prompt_tokens"] > 150
    assert "Answer: green" in info["injected"] and isinstance(info["raw"], str)
    assert set(result) >= {"answer", "answer_choice", "target", "calls"}
    call = result["calls"][-1]
    assert call["role"] == "target" and call["usage"]["input_tokens"] == sent["prompt_tokens"]
    assert call["usage"]["output_tokens"] <= 16


def test_prepare_rejects_a_missing_hf_target_before_the_loop(clip, tmp_path):
    missing = tmp_path / "nothing-here"
    with pytest.raises(aurelia.ModelConfigError, match="Hugging Face model path not found"):
        aurelia.run(clip, QUESTION, context={"target_model": f"hf:{missing}"}, models=loop_models())


def test_answer_api_with_a_chat_target(clip):
    result = aurelia.answer(clip, QUESTION, choices=CHOICES, target=fake("B"))
    assert result.inject == "none" and result.injected == "" and result.letter == "B"


@pytest.mark.hf
def test_cli_answer_with_a_local_vlm(clip, tmp_path_factory, tmp_path):
    pytest.importorskip("torchvision")
    from tiny_hf import tiny_model

    vlm = tiny_model("vlm", tmp_path_factory)
    star = tmp_path / "r.json"
    star.write_text(json.dumps({"reasoning_star": json.loads(REASONING_JSON)}))
    args = ["answer", str(clip), "-q", QUESTION, *[arg for c in CHOICES for arg in ("-c", c)], "--target", f"hf:{vlm}"]
    args += ["--reasoning-file", str(star), "--inject", "full", "--max-new-tokens", "4", "--max-frames", "4", "--max-pixels", "6272"]
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["target"]["family"].startswith("vision-language") and data["inject"] == "full"
    assert data["received"]["modalities"] == ["text", "video", "digest"] and data["received"]["frames"] == 4
    assert "Final answer: green" in data["injected"] and data["usage"]["output_tokens"] <= 4
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0 and "received: text + video (4 frames" in text.stdout and "measured digest" in text.stdout


def test_cli_answer_errors(clip, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["answer", str(clip), "-q", QUESTION, "--target", f"hf:{tmp_path / 'none'}"])
    assert missing.exit_code == 2 and missing.stderr.strip() == f"error: {tmp_path / 'none'}: Hugging Face model path not found"
    no_star = runner.invoke(app, ["answer", str(clip), "-q", QUESTION, "--inject", "steps"])
    assert no_star.exit_code == 2 and "needs a reasoning r*" in no_star.stderr
    bad_video = runner.invoke(app, ["answer", str(tmp_path / "x.mp4"), "-q", QUESTION])
    assert bad_video.exit_code == 2 and "x.mp4: file not found" in bad_video.stderr
