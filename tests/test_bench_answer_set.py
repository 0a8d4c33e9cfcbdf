"""Tasks say what they mean: through ``aurelia bench run`` (every model a loopback OpenAI-compatible
server) the target reads the task's own instruction and its closed answer set, every reading of
an answer is given the set, and ``--judge`` in ``bench run`` and ``bench report`` is reported
apart from the rule-based metric."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from openai_fake import openai_server
from test_bench_runner import write_manifest
from typer.testing import CliRunner

from aurelia.bench import run_benchmark, validate_manifest
from aurelia.bench.tasks import builtin_tasks, target_instruction
from aurelia.cli import app
from aurelia.testing.chat import TimedFakeChat, agent_models

runner = CliRunner()
REASONING = '{"steps": [{"step": "Count the instruments", "answer": "two"}], "final_answer": "two"}'
REPLIES = {
    "gen": [REASONING],
    "sum": ["Two instruments play."],
    "eval": ['{"score": 8, "rationale": "ok"}'],
    "tgt": ["two"],
    "judge": ["Yes.", "No, it differs."],
}


def write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


@pytest.fixture
def manifest(tmp_path: Path, clip: Path) -> Path:
    lines = [
        {
            "id": f"m{i}",
            "task": "music_avqa",
            "category": ["Audio", "Counting"],
            "video": str(clip),
            "question": f"How many instruments sound? ({i})",
            "answer": answer,
        }
        for i, answer in enumerate(["two", "three"])
    ]
    return write(tmp_path / "manifest.jsonl", lines)


def test_the_target_reads_the_task_and_the_judge_is_reported_apart(manifest: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "not-used")
    sets: list[object] = []

    def spy(reader):
        def read(*args, **kwargs):
            sets.append(kwargs.get("answer_set"))
            return reader(*args, **kwargs)

        return read

    for module in map(importlib.import_module, ("aurelia.bench.engine", "aurelia.bench.score")):  # score: also a function's name
        monkeypatch.setattr(module, "read_output", spy(module.read_output))
        monkeypatch.setattr(module, "is_correct", spy(module.is_correct))
    with openai_server(REPLIES) as (url, requests):
        out = tmp_path / "run"
        args = ["bench", "run", str(manifest), "--target", f"{url}?model=tgt", "--out", str(out), "--cache", str(tmp_path / "c.sqlite")]
        args += ["--generator", f"{url}?model=gen", "--summarizer", f"{url}?model=sum", "--evaluator", f"{url}?model=eval"]
        result = runner.invoke(app, [*args, "--judge", f"{url}?model=judge"])
        assert result.exit_code == 0, result.output
        target_texts = [json.dumps(r["messages"]) for r in requests if r["model"] == "tgt"]
        assert len(target_texts) == 4  # two samples, zero-shot and with r*
        task = builtin_tasks()["music_avqa"]
        wanted = json.dumps(target_instruction(task))[1:-1]
        assert all(wanted in t and "Possible answers: yes, no, zero" in t for t in target_texts)
        assert not any("a word or a short phrase" in t for t in target_texts)
        assert sets and all(s == task.answer_set for s in sets)  # every reading got the task's set
        # the judge: asked about the four open answers, reported apart, never changing the accuracy
        assert sum(r["model"] == "judge" for r in requests) == 4
        lines = [x for x in result.output.splitlines() if x.startswith("judge ")]
        assert len(lines) == 2 and "music_avqa 0.500" in lines[0] and "(apart from the metrics)" in lines[0]
        judged = json.loads((out / "judge.json").read_text())
        [target] = judged["scores"]  # named by its model string
        assert judged["scores"][target]["none"]["music_avqa"] == {"accuracy": 0.5, "n": 2, "unjudged": 0}
        report = runner.invoke(app, ["bench", "report", str(out), "--judge", f"{url}?model=judge"])
        assert report.exit_code == 0, report.output
        assert sum(r["model"] == "judge" for r in requests) == 8
    written = json.loads((out / "report.json").read_text())
    assert written["judge"]["model"] == judged["model"] and set(written["judge"]["scores"][target]) == {"none", "steps"}
    table = written["table1"]["scores"][target]["none"]["tasks"]["music_avqa"]
    assert table["accuracy"] == 0.5  # the rule-based metric: "two" is right once, whatever the judge says
    assert any(line.startswith("judge ") for line in report.output.splitlines())
    markdown = (out / "report.md").read_text()  # report.md shows the judge too, in its own section
    assert "## LLM judge" in markdown and "| music_avqa | 0.500 | 2 | 0 |" in markdown


def test_a_judge_on_a_run_without_open_answers_is_one_line(tmp_path: Path, clip: Path) -> None:
    run_benchmark(
        write_manifest(tmp_path, clip, 1),
        {"t": TimedFakeChat(responses=["C"])},
        tmp_path / "run",
        models=agent_models(),
        cache=tmp_path / "c.sqlite",
    )
    result = runner.invoke(app, ["bench", "report", str(tmp_path / "run"), "--judge", "ollama:judge"])
    assert result.exit_code == 2 and "nothing for a judge in this run" in result.output
    assert not (tmp_path / "run" / "judge.json").exists()


def test_an_answer_outside_the_set_is_a_problem(tmp_path: Path, clip: Path) -> None:
    line = {"id": "m", "task": "music_avqa", "video": str(clip), "question": "Which instrument?", "answer": "guitar"}
    [problem] = validate_manifest(write(tmp_path / "m.jsonl", [line])).problems
    assert (problem.field, problem.reason) == ("answer", "'guitar' is not in task music_avqa's answer set (its YAML file lists 42)")
