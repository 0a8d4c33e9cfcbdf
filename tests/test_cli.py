"""CLI: bad input gives one line and exit code 2; --json round-trips a real run."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from aurelia.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture()
def random_bytes_mp4(tmp_path):
    p = tmp_path / "noise.mp4"
    p.write_bytes(bytes(range(256)) * 64)
    return p


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "{missing}", "-q", "what?"], "file not found"),
        (["run", "{noise}", "-q", "what?"], "not a readable media file"),
        (["run", "{wav}", "-q", "what?"], "no video stream"),
        (["run", "{dir}", "-q", "what?"], "is a directory"),
        (["run", "{clip}", "-q", "   "], "question is empty"),
        (["run", "{clip}", "-q", "what?", "--threshold", "11"], "threshold"),
        (["run", "{clip}", "-q", "what?", "--max-iterations", "0"], "max_iterations"),
        (["run", "{clip}", "-q", "what?", "--generator", "nosuch:model"], "unknown model provider"),
        (["run", "{clip}", "-q", "what?", "--evaluator", "openai:gpt-4o"], "OPENAI_API_KEY"),
        (["run", "{clip}", "-q", "what?", "--inject", "everything"], "inject must be one of"),
        (["run", "{clip}", "-q", "what?", "--choice", "only one"], "2 to 26 choices"),
        (["run", "{clip}", "-q", "what?", "--option", "{silent}"], "no audio stream in the candidate audio clip"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle, clip, silent_clip, tone_wav, random_bytes_mp4, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    paths = {
        "{missing}": str(tmp_path / "missing.mp4"),
        "{noise}": str(random_bytes_mp4),
        "{wav}": str(tone_wav),
        "{dir}": str(tmp_path),
        "{clip}": str(clip),
        "{silent}": str(silent_clip),
    }
    result = invoke(*[paths.get(a, a) for a in args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert needle in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.llm
def test_json_round_trip_on_the_embedded_model(clip):
    result = invoke(
        "run", str(clip), "-q", "What colour is the screen at the end?", "-c", "red", "-c", "green", "--max-iterations", "2", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # progress goes to stderr
    assert 1 <= len(data["iterations"]) <= 2
    assert data["stop_reason"] in {"threshold", "max_iterations"}
    assert all(it["score"] is None or 1 <= it["score"] <= 10 for it in data["iterations"])  # None: unscored
    assert data["reasoning_star"] == data["iterations"][data["best_iteration"] - 1]["reasoning"]
    assert data["context"]["max_iterations"] == 2 and data["context"]["generator_model"] == "local"
    assert set(data["node_seconds"]) >= {"prepare", "generator", "summarizer", "evaluator", "target"}
    gen_calls = [c for c in data["calls"] if c["role"] == "generator"]
    assert gen_calls[0]["received"] == ["text", "digest"] and gen_calls[0]["usage"]["output_tokens"] > 0
    assert data["answer_choice"] in {"A", "B", None}


def test_unreachable_model_server_is_one_line_and_exit_1(clip):
    # port 9 on loopback: nothing listens, the connection is refused at once
    result = invoke("run", str(clip), "-q", "what?", "--max-iterations", "1", "--generator", "http://127.0.0.1:9/v1?model=x")
    assert result.exit_code == 1, result.output
    # one line for the error; the timestamped lines before it are the progress of the nodes that finished
    lines = [line for line in result.output.splitlines() if line.strip() and not re.match(r"\d\d:\d\d:\d\d ", line)]
    assert len(lines) == 1 and "http://127.0.0.1:9/v1?model=x" in lines[0] and "failed" in lines[0]
    assert "Traceback" not in result.output


def test_credentials_in_a_model_url_are_not_recorded():
    from aurelia.models.spec import parse_model_string

    spec = parse_model_string("https://user:s3cret@localhost:8000/v1?model=m")
    assert spec.label == "https://***@localhost:8000/v1?model=m" and "s3cret" not in spec.label
