"""CLI options for the paper's setting and ours, end to end through a scripted OpenAI-compatible
server on loopback: recorded in the result, printed, and refused in one line when invalid."""

from __future__ import annotations

import json

import pytest
from openai_stub import openai_stub
from typer.testing import CliRunner

from aurelia.cli import app

runner = CliRunner()
QUESTION = "What colour is the screen when the audio is silent?"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--prompt-set", "mine"], "prompt_set must be one of aurelia, paper"),
        (["--feedback-mode", "loud"], "feedback_mode must be one of score_only, rationale, critic"),
        (["--feedback-mode", "critic"], "needs the critic's model"),
        (["--prompt-set", "paper", "--feedback-mode", "rationale"], "'paper' prompt set does not ask for"),
        (["--inject-position", "middle"], "inject_position must be one of"),
        (["--answer-kind", "essay"], "answer_kind must be one of short, sentence, caption"),
        (["--extractor", "nosuch:model", "-c", "red", "-c", "blue"], "unknown model provider"),
    ],
)
def test_invalid_settings_are_one_line_and_exit_2(clip, args, needle):
    result = runner.invoke(app, ["run", str(clip), "-q", QUESTION, *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output


def scripted():
    """Scripted agents: the evaluator's replies hold no usable score until the second generation."""
    models: list[str] = []

    def reply(model: str, text: str, body: dict) -> str:
        models.append(model)
        if model == "gen":
            steps = [{"step": "Look at the screen after the tone stops", "answer": "it is green"}]
            return json.dumps({"steps": steps, "final_answer": "green"})
        if model == "sum":
            return "A red screen with a tone, a blue screen with beeps, then a silent green screen."
        if model == "ev":
            return "I cannot judge this." if models.count("gen") < 2 else '{"score": 8}'
        if model == "tgt":
            return "Hard to say. The last colour, the colour of grass, I suppose."
        return "C"  # the extractor

    return reply


def test_paper_setting_without_early_stop_end_to_end(clip):
    with openai_stub(scripted()) as stub:
        roles = {"generator": "gen", "summarizer": "sum", "evaluator": "ev", "target": "tgt"}
        args = [arg for role, name in roles.items() for arg in (f"--{role}", stub.url(name))]
        common = ["run", str(clip), "-q", QUESTION, *[a for c in ("red", "blue", "green", "black") for a in ("-c", c)], *args]
        options = ["--prompt-set", "paper", "--no-early-stop", "--max-iterations", "3", "--threshold", "6"]
        options += ["--inject-position", "before_question", "--extractor", stub.url("ext")]
        result = runner.invoke(app, [*common, *options, "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        requests = list(stub.requests)
    assert [it["score"] for it in data["iterations"]] == [None, 8, 8]  # unscored, then all T iterations
    assert data["stop_reason"] == "max_iterations" and data["would_stop_at"] == 2 and data["best_iteration"] == 2
    settings = data["settings"]
    assert (settings["prompt_set"], settings["feedback_mode"], settings["early_stop"]) == ("paper", "score_only", False)
    assert settings["inject_position"] == "before_question" and settings["extractor"].endswith("?model=ext")
    assert data["context"]["prompt_set"] == "paper" and data["context"]["early_stop"] is False
    assert data["answer_choice"] is None and data["answer_extracted"]["letter"] == "C"
    generator_temps = [(c["temperature"], c["seed"]) for c in data["calls"] if c["role"] == "generator"]
    assert generator_temps == [(0.0, 0), (0.7, 0), (0.7, 0)]
    target_prompt = next(r for r in requests if r["model"] == "tgt")["messages"][-1]["content"]
    text = target_prompt if isinstance(target_prompt, str) else target_prompt[-1]["text"]
    assert text.index("Reasoning steps") < text.index("Question:")


def test_unscored_prints_as_unscored(clip):
    agents = scripted()

    def never(model: str, text: str, body: dict) -> str:
        return agents(model, text, body) if model != "ev" else "no idea"

    with openai_stub(never) as stub:
        roles = {"generator": "gen", "summarizer": "sum", "evaluator": "ev"}
        args = [arg for role, name in roles.items() for arg in (f"--{role}", stub.url(name))]
        result = runner.invoke(app, ["run", str(clip), "-q", QUESTION, *args, "--max-iterations", "1", "--reasoning-only"])
    assert result.exit_code == 0, result.output
    assert "unscored" in result.output and "prompt set: aurelia" in result.output


def test_answer_command_extractor_answer_kind_and_position(clip):
    with openai_stub(scripted()) as stub:
        colours = [a for c in ("red", "blue", "green", "black") for a in ("-c", c)]
        result = runner.invoke(
            app, ["answer", str(clip), "-q", QUESTION, *colours, "--target", stub.url("tgt"), "--extractor", stub.url("ext"), "--json"]
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["letter"] is None and data["extracted"]["letter"] == "C" and data["extracted"]["source"] == "extractor"
        assert data["sampling"] == {"temperature": 0.0, "seed": 0}
        result = runner.invoke(app, ["answer", str(clip), "-q", "What happens?", "--target", stub.url("tgt"), "--answer-kind", "caption"])
        assert result.exit_code == 0, result.output
        sent = stub.sent_to("tgt")[-1]["messages"][-1]["content"]
    assert "one paragraph that describes what is seen and heard" in (sent if isinstance(sent, str) else sent[-1]["text"])
    assert "the colour of grass" in result.output  # the whole open answer, not its first line cut
