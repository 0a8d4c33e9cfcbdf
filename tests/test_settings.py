"""One way to set anything: every entry point builds its settings with ``make_context``, so an
unknown or mistyped setting is refused with the same line from each; the CLI's options are
generated from the settings, and what they set reaches the models."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from aurelia.cli import app
from aurelia.errors import InputError
from aurelia.graph.builder import check_served_context, make_graph
from aurelia.graph.context import SETTINGS, Context, make_context
from aurelia.prompts.format import ANSWER_KINDS, INJECT_MODES, INJECT_POSITIONS
from aurelia.schemas import AnswerKind, InjectMode, InjectPosition
from aurelia.targets import TargetSample
from aurelia.testing.faults import FaultServer

sys.path.insert(0, str(Path(__file__).parent))
from fakes import REASONING_JSON

TYPO = "no setting 'threshhold' (did you mean 'threshold'?)"
BAD_INJECT = "inject must be one of steps, steps_answers, full, none, got 'stpes'"
runner = CliRunner()


def refusal(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    return str(caught.value)


def test_make_context_refuses_unknown_names_and_wrong_types_in_one_line():
    assert refusal(lambda: make_context({"threshhold": 9})) == TYPO
    assert refusal(lambda: make_context(None, threshhold=9)) == TYPO
    assert refusal(lambda: make_context({"colour": "red"})) == "no setting 'colour'"
    assert refusal(lambda: make_context({"inject": "stpes"})) == BAD_INJECT
    assert "threshold τ: input should be less than or equal to 10, got 11" in refusal(lambda: make_context({"threshold": 11}))
    assert "input should be a valid integer" in refusal(lambda: make_context({"seed": "7"}))  # strict: text is not a number
    assert refusal(lambda: make_context(["threshold"])) == "settings must be a mapping of setting names to values, got list"
    ctx = make_context(Context(threshold=9), seed=7, temperature=None)  # None: not given
    assert (ctx.threshold, ctx.seed, ctx.temperature) == (9, 7, 0.7)


def test_every_entry_point_refuses_a_typo_with_the_same_line(tmp_path):
    import aurelia
    from aurelia.bench import run_benchmark
    from aurelia.durable import run_thread
    from aurelia.embed import aurelia_tool, reasoning_node

    calls = {
        "aurelia.run": lambda: aurelia.run("clip.mp4", "Colour?", context={"threshhold": 9}),
        "run_thread": lambda: run_thread("clip.mp4", "Colour?", thread_id="t", db=tmp_path / "t.sqlite", settings={"threshhold": 9}),
        "reasoning_node": lambda: reasoning_node(context={"threshhold": 9}),
        "aurelia_tool": lambda: aurelia_tool(context={"threshhold": 9}),
        "run_benchmark": lambda: run_benchmark(tmp_path / "m.jsonl", ["local"], tmp_path / "run", context={"threshhold": 9}),
        # the served graph: LangGraph's server drops unknown context keys; the graph factory sees them first
        "served graph": lambda: make_graph(None, SimpleNamespace(context={"threshhold": 9})),
    }
    assert {name: refusal(call) for name, call in calls.items()} == dict.fromkeys(calls, TYPO)
    check_served_context(SimpleNamespace(context={"threshold": 9}))  # known names pass (types: the prepare node)
    check_served_context(SimpleNamespace())  # a read (no run): nothing to check


def test_the_cli_refuses_a_bad_value_with_the_line_python_gives(clip):
    result = runner.invoke(app, ["run", str(clip), "-q", "Colour?", "--inject", "stpes"])
    assert result.exit_code == 2 and result.output.strip().splitlines()[-1] == f"error: {BAD_INJECT}"
    assert refusal(lambda: make_context({"inject": "stpes"})) == BAD_INJECT
    # a mistyped setting flag: the same line as the mistyped key from Python, before anything runs
    typo_line = refusal(lambda: make_context({"threshhold": 9}))
    assert typo_line == "no setting 'threshhold' (did you mean 'threshold'?)"
    for command in (["run", str(clip), "-q", "Colour?"], ["bench", "run", "m.jsonl", "--target", "local"]):
        typo = runner.invoke(app, [*command, "--threshhold", "9"])
        assert typo.exit_code == 2 and typo.output.strip().splitlines()[-1] == f"error: {typo_line}", typo.output
    # an unknown flag nearest to one of the command's own flags keeps click's message (it names that flag)
    own = runner.invoke(app, ["run", str(clip), "-q", "Colour?", "--jsno"])
    assert own.exit_code == 2 and "--json" in own.output and "no setting" not in own.output


def test_run_help_lists_every_setting_once():
    text = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "400"}).output
    flags = [f"--{name.replace('_', '-')}" for name in SETTINGS]
    for flag in flags:
        rows = [line for line in text.splitlines() if re.match(rf"[│\s]*(--[\w-]+,)?{flag}[\s,]", line)]
        assert len(rows) == 1, flag  # its own row of the options table
    for old in ("--frames", "--timeout", "--budget", "--generator", "--target", "--no-early-stop", "--review"):
        assert old in text  # the spellings used before stay
    assert "--target-max-tokens" in text and "(default: 64)" in text


def test_temperature_and_seed_from_the_cli_reach_the_generator(clip):
    replies = {"gen": REASONING_JSON, "sum": "Red, then blue, then green.", "ev": '{"score": 3, "rationale": "vague"}'}
    with FaultServer(replies=replies) as server:
        result = runner.invoke(
            app,
            [
                *("run", str(clip), "-q", "Colour?", "--reasoning-only", "--max-iterations", "2", "--threshold", "10", "--quiet"),
                *("--generator", server.url("gen"), "--summarizer", server.url("sum"), "--evaluator", server.url("ev")),
                *("--temperature", "0.3", "--seed", "7", "--max-tokens", "200", "--json"),
            ],
        )
        seen = [s.body for s in server.seen if s.model == "gen"]
    assert result.exit_code == 0, result.output
    assert len(seen) == 2
    assert seen[0].get("temperature") == 0.0 and seen[1]["temperature"] == 0.3  # iteration 1 is greedy, then the setting
    assert all(body["seed"] == 7 and body.get("max_completion_tokens", body.get("max_tokens")) == 200 for body in seen)


def test_the_allowed_values_have_one_list():
    assert INJECT_MODES == ("steps", "steps_answers", "full", "none") and Context.__annotations__["inject"] == "InjectMode"
    assert (ANSWER_KINDS, INJECT_POSITIONS) == (("short", "sentence", "caption"), ("after_choices", "before_question"))
    for literal in (InjectMode, AnswerKind, InjectPosition):
        assert literal.__module__ == "typing"  # the Literals of aurelia.schemas
    message = refusal(lambda: TargetSample(SimpleNamespace(), "Colour?", inject="none", answer_kind="essay"))
    assert message == "answer_kind must be one of short, sentence, caption, got 'essay'"
    assert refusal(lambda: make_context({"answer_kind": "essay"})) == message
