"""The benchmark's controls and equal-cost baselines (cot, sc, placebo) and a seeded manifest
subset, on real synthetic clips with scripted chat models: every sample in every mode, K sampled
calls per self-consistency vote, placebo r* from another sample of the same task, resume, and the
same ids for the same seed with the tasks in their shares."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from openai_fake import openai_server
from pydantic import Field
from typer.testing import CliRunner

from aurelia.bench import run_benchmark
from aurelia.bench.controls import placebo_donors, stratified_sample, vote
from aurelia.bench.manifest import load_manifest
from aurelia.bench.render import write_report
from aurelia.bench.runner import select_samples
from aurelia.bench.tasks import builtin_tasks
from aurelia.cli import app
from aurelia.errors import InputError
from aurelia.testing.chat import CAPTION

CHOICES = ["red", "blue", "green"]
K = 3
PREFIX = {"av_compositional": "c", "av_geoiq": "g"}


class Scripted(BaseChatModel):
    """A chat model whose reply is ``script(prompt text, temperature, seed)``; ``log`` (shared by
    the copies a target makes to set its generation settings) keeps every call's settings."""

    script: Callable[[str, float, int | None], str]
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    log: list = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        text = "\n".join(m.content if isinstance(m.content, str) else " ".join(b.get("text", "") for b in m.content) for m in messages)
        self.log.append({"temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens, "text": text})
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.script(text, self.temperature, self.seed)))])


def reasoning_for(text: str, temperature: float, seed: int | None) -> str:
    """r* that names the sample it was made for (the question's '#N')."""
    n = re.search(r"#(\w+)", text).group(1)
    step = {"step": f"Look at the end of clip #{n}", "answer": "green"}
    return json.dumps({"steps": [step], "final_answer": "green"})


def answers(text: str, temperature: float, seed: int | None) -> str:
    """Wrong zero-shot, right with any reasoning shown, right after its own chain of thought; sampled:
    seeds 0 and 2 right, seed 1 wrong (a majority for C)."""
    if "Answer:" in text and "step by step" in text:
        return "The clip ends on a green screen.\nAnswer: (C)"
    if temperature > 0:
        return "(A) red" if seed == 1 else "C"
    return "C" if "Reasoning steps to consider" in text else "A"


def agents() -> dict[str, BaseChatModel]:
    return {
        "generator": Scripted(script=reasoning_for),
        "summarizer": Scripted(script=lambda *_: CAPTION),
        "evaluator": Scripted(script=lambda *_: '{"score": 8, "rationale": "scripted"}'),
    }


def write_manifest(folder: Path, clip: Path, per_task: dict[str, int]) -> Path:
    lines = []
    for task, n in per_task.items():
        for i in range(n):
            sid = f"{PREFIX[task]}{i}"
            question = f"Which colour comes last? (#{sid})"
            category = [("early", "late")[i % 2]]
            line = {"id": sid, "task": task, "video": str(clip), "question": question, "choices": CHOICES, "answer": "green"}
            lines.append(line | {"category": category})
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    return path


def results(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


MODES = ("none", "steps", "cot", "sc", "placebo")


def run_controls(tmp_path: Path, clip: Path, target: Scripted, **options: Any):
    manifest = write_manifest(tmp_path, clip, {"av_compositional": 3, "av_geoiq": 2})
    return run_benchmark(
        manifest, {"t": target}, tmp_path / "run", models=agents(), cache=tmp_path / "c.sqlite", inject="steps,cot,sc,placebo",
        sc_samples=K, concurrency=2, **options,
    )  # fmt: skip


def test_every_sample_is_answered_in_every_mode(tmp_path, clip):
    target = Scripted(script=answers)
    result = run_controls(tmp_path, clip, target)
    rows = results(tmp_path / "run")
    ids = {"c0", "c1", "c2", "g0", "g1"}
    assert {(r["id"], r["inject"]) for r in rows} == {(i, m) for i in ids for m in MODES}
    assert all(r["error"] is None for r in rows), [r["error"] for r in rows if r["error"]]
    by_mode = {m: [r for r in rows if r["inject"] == m] for m in MODES}
    assert all(r["correct"] is False for r in by_mode["none"])
    assert all(r["correct"] for m in ("steps", "cot", "sc", "placebo") for r in by_mode[m])
    assert all(r["parsed"] == "C" and r["output"].endswith("Answer: (C)") for r in by_mode["cot"])
    # one call per sample and mode, K per self-consistency vote; r* made once per sample
    assert result.counts.target_calls == len(target.log) == 5 * (4 + K)
    assert result.counts.reasoning_generated == 5 and result.counts.samples_done == 5
    cot_calls = [c for c in target.log if "step by step" in c["text"]]
    assert len(cot_calls) == 5 and {c["max_tokens"] for c in cot_calls} == {512}
    assert {c["max_tokens"] for c in target.log if c not in cot_calls} == {None}  # an instance keeps its own


def test_self_consistency_makes_k_seeded_sampled_calls_and_votes(tmp_path, clip):
    target = Scripted(script=answers)
    run_controls(tmp_path, clip, target, seed=0, sc_temperature=0.9)
    sampled = [c for c in target.log if c["temperature"] > 0]
    assert len(sampled) == 5 * K and {c["temperature"] for c in sampled} == {0.9}
    assert Counter(c["seed"] for c in sampled) == {0: 5, 1: 5, 2: 5}
    assert all("Reasoning steps" not in c["text"] and "step by step" not in c["text"] for c in sampled)  # the zero-shot prompt
    assert all(c["temperature"] == 0.0 for c in target.log if c not in sampled)
    for r in (r for r in results(tmp_path / "run") if r["inject"] == "sc"):
        assert r["target_calls"] == K and r["sc"]["parsed"] == ["C", "A", "C"] and r["sc"]["votes"] == {"C": 2, "A": 1}
        assert r["sc"]["seeds"] == [0, 1, 2] and r["parsed"] == "C" and r["correct"] is True


def test_each_placebo_is_another_samples_r_star_of_the_same_task(tmp_path, clip):
    target = Scripted(script=answers)
    run_controls(tmp_path, clip, target, seed=5)
    rows = results(tmp_path / "run")
    steps = {r["id"]: r for r in rows if r["inject"] == "steps"}
    placebo = {r["id"]: r for r in rows if r["inject"] == "placebo"}
    assert len(placebo) == 5
    for sid, r in placebo.items():
        donor = r["placebo_of"]
        assert donor != sid and steps[donor]["task"] == r["task"]
        assert r["rhash"] == steps[donor]["rhash"] != steps[sid]["rhash"]
    # the target read the donor's steps, injected as in steps
    for call in (c for c in target.log if "Reasoning steps to consider" in c["text"]):
        asked = re.search(r"\(#(\w+)\)", call["text"]).group(1)
        shown = re.search(r"end of clip #(\w+)", call["text"]).group(1)
        assert shown in (asked, placebo[asked]["placebo_of"])
    # the same seed gives the same donors
    again = tmp_path / "again"
    again.mkdir()
    run_controls(again, clip, Scripted(script=answers), seed=5)
    assert {r["id"]: r["placebo_of"] for r in results(again / "run") if r["inject"] == "placebo"} == {
        sid: r["placebo_of"] for sid, r in placebo.items()
    }


def test_the_report_compares_every_control_with_zero_shot(tmp_path, clip):
    run_controls(tmp_path, clip, Scripted(script=answers))
    write_report(tmp_path / "run", resamples=200)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert set(report["inject"]) == set(MODES)
    compared = report["statistics"]["comparisons"]["t"]
    assert set(compared) == {"steps", "cot", "sc", "placebo"}
    for mode in compared:
        assert {task: c["n"] for task, c in compared[mode].items() if task != "all"} == {"av_compositional": 3, "av_geoiq": 2}
    text = (tmp_path / "run" / "report.md").read_text()
    for mode in ("cot", "sc", "placebo"):  # zero-shot always wrong, the control always right: 3 flips up
        assert f"- `{mode}`, av_compositional (accuracy, n 3): 0.000 → 1.000 (+1.000" in text


def test_resume_answers_only_the_missing_control_records(tmp_path, clip):
    run_controls(tmp_path, clip, Scripted(script=answers))
    before = {(r["id"], r["inject"]): r for r in results(tmp_path / "run")}
    with sqlite3.connect(tmp_path / "run" / "store.sqlite") as db:  # as if killed before these were written
        db.execute("DELETE FROM results WHERE id = 'c1' AND inject IN ('sc', 'placebo', 'cot')")
    target = Scripted(script=answers)
    again = run_controls(tmp_path, clip, target)
    assert len(target.log) == again.counts.target_calls == K + 2 and again.counts.agent_calls == 0
    after = {(r["id"], r["inject"]): r for r in results(tmp_path / "run")}
    assert set(after) == set(before)
    assert after[("c1", "placebo")]["placebo_of"] == before[("c1", "placebo")]["placebo_of"]
    unchanged = [k for k in before if k[0] != "c1" or k[1] not in ("sc", "placebo", "cot")]
    assert all(after[k] == before[k] for k in unchanged)
    done = Scripted(script=answers)
    third = run_controls(tmp_path, clip, done)
    assert done.log == [] and third.counts.samples_skipped == 5


def test_a_placebo_needs_another_sample_with_r_star(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, {"av_compositional": 1})
    run_benchmark(
        manifest, {"t": Scripted(script=answers)}, tmp_path / "run", models=agents(), cache=tmp_path / "c.sqlite", inject="placebo"
    )
    (row,) = [r for r in results(tmp_path / "run") if r["inject"] == "placebo"]
    assert row["error"] == "no other sample of task av_compositional has r* to give as placebo" and row["correct"] is None


def test_vote_and_derangement():
    assert vote(["B", "A", "B", None, None]) == ("B", {"B": 2, "A": 1})
    assert vote(["A", "B", None]) == (None, {"A": 1, "B": 1})  # a tie is unparsed
    assert vote([None, None]) == (None, {})
    ids = {"x": [f"x{i}" for i in range(7)], "y": ["y0", "y1"], "z": ["z0"]}
    donors = placebo_donors(ids, seed=3)
    assert set(donors) == set(ids["x"]) | set(ids["y"])  # z0 has no one to take from
    assert all(d != s and d[0] == s[0] for s, d in donors.items())
    assert sorted(v for k, v in donors.items() if k[0] == "x") == ids["x"]  # a permutation: each r* given once
    assert placebo_donors(ids, seed=3) == donors != placebo_donors(ids, seed=4)


def test_the_same_seed_samples_the_same_ids_and_tasks_keep_their_shares(tmp_path, clip):
    manifest = load_manifest(write_manifest(tmp_path, clip, {"av_compositional": 30, "av_geoiq": 10}))
    first = select_samples(manifest, None, None, sample=8, seed=11)
    assert [s.id for s in first] == [s.id for s in select_samples(manifest, None, None, sample=8, seed=11)]
    assert Counter(s.task for s in first) == {"av_compositional": 6, "av_geoiq": 2}
    assert Counter(s.category[0] for s in first if s.task == "av_compositional") == {"early": 3, "late": 3}
    assert [s.id for s in first] == [s.id for s in manifest.samples if s.id in {f.id for f in first}]  # manifest order
    others = {tuple(s.id for s in select_samples(manifest, None, None, sample=8, seed=seed)) for seed in range(12, 16)}
    assert len(others | {tuple(s.id for s in first)}) > 1
    assert len(stratified_sample(manifest.samples, 100, 0, builtin_tasks())) == 40
    with pytest.raises(InputError, match="not both"):
        select_samples(manifest, None, 3, sample=8)
    with pytest.raises(InputError, match="at least 1"):
        select_samples(manifest, None, None, sample=0)


def test_cli_sample_and_controls_at_an_openai_compatible_server(tmp_path, clip, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "not-used")
    manifest = write_manifest(tmp_path, clip, {"av_compositional": 6, "av_geoiq": 6})
    replies = {
        "gen": [reasoning_for("#any", 0, None)],
        "sum": [CAPTION],
        "eval": ['{"score": 8, "rationale": "ok"}'],
        "tgt": ["C"],
    }
    with openai_server(replies) as (url, requests):
        args = ["bench", "run", str(manifest), "--target", f"{url}?model=tgt", "--out", str(tmp_path / "run")]
        args += ["--cache", str(tmp_path / "c.sqlite"), "--generator", f"{url}?model=gen", "--summarizer", f"{url}?model=sum"]
        args += ["--evaluator", f"{url}?model=eval", "--inject", "steps,cot,sc,placebo", "--sc-samples", str(K)]
        args += ["--sc-temperature", "0.5", "--sample", "4", "--seed", "7", "--quiet"]
        out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    chosen = [s.id for s in select_samples(load_manifest(manifest), None, None, sample=4, seed=7)]
    rows = results(tmp_path / "run")
    assert sorted({r["id"] for r in rows}) == sorted(chosen) and len(rows) == 4 * len(MODES)
    assert all(r["error"] is None for r in rows), [r["error"] for r in rows if r["error"]]
    assert Counter(r["task"] for r in rows if r["inject"] == "none") == {"av_compositional": 2, "av_geoiq": 2}
    target_requests = [r for r in requests if r["model"] == "tgt"]
    sampled = [r for r in target_requests if r.get("temperature") == 0.5]
    assert len(sampled) == 4 * K and Counter(r["seed"] for r in sampled) == {7: 4, 8: 4, 9: 4}
    assert len(target_requests) == 4 * (4 + K)
    settings = json.loads((tmp_path / "run" / "run.json").read_text())["settings"]
    assert settings["sample"] == 4 and settings["controls"] == {"sc_samples": K, "sc_temperature": 0.5, "cot_max_tokens": 512, "seed": 7}


def test_the_cot_prompt_asks_for_reasoning_then_the_answer_as_the_task_says(clip):
    from aurelia.media.prepare import prepare_media
    from aurelia.prompts.format import target_prompt
    from aurelia.targets import TargetSample

    prompt = target_prompt("Which colour?", CHOICES, None, "cot", instruction="Answer with the letter of the correct choice only.")
    assert "think step by step" in prompt.user and 'starts with "Answer:"' in prompt.user
    assert prompt.user.endswith("Write that answer as follows: Answer with the letter of the correct choice only.")
    assert "Reasoning steps" not in prompt.user
    media = prepare_media(str(clip), None, 2)
    with pytest.raises(InputError, match="give no r"):
        TargetSample(media, "Which colour?", CHOICES, {"steps": [{"step": "look", "answer": "green"}]}, "cot")
    with pytest.raises(InputError, match="inject must be one of"):
        TargetSample(media, "Which colour?", CHOICES, None, "sc")  # a bench control, not a prompt
