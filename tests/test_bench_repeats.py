"""``--repeats K``: each record answered K times at the target's temperature with seeds seed …
seed + K - 1, stored in the record, never redone on resume; the report's mean ± sd across repeats."""

from __future__ import annotations

import json
import re
import sqlite3
import statistics as pystats
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from openai_fake import openai_server
from test_bench_controls import Scripted, agents, reasoning_for, results, write_manifest
from typer.testing import CliRunner

from aurelia.bench import run_benchmark
from aurelia.bench.render import write_report
from aurelia.cli import app
from aurelia.errors import InputError
from aurelia.testing.chat import CAPTION

K = 3
# zero-shot: the seeds at which each sample is answered right (the others: wrong)
RIGHT = {"c0": {0, 1}, "c1": {0}, "c2": set(), "g0": {0, 1, 2}, "g1": {2}}


def seeded(text: str, temperature: float, seed: int | None) -> str:
    """Right zero-shot at the seeds RIGHT names; with r* right unless the seed is 2."""
    sid = re.search(r"\(#(\w+)\)", text).group(1)
    if "Reasoning steps to consider" in text:
        return "A" if seed == 2 else "C"
    return "C" if seed in RIGHT[sid] else "A"


def run(tmp_path: Path, clip: Path, target: Scripted, **options: Any):
    manifest = write_manifest(tmp_path, clip, {"av_compositional": 3, "av_geoiq": 2})
    options = {"repeats": K, "context": {"target_temperature": 0.8}} | options
    return run_benchmark(
        manifest, {"t": target}, tmp_path / "run", models=agents(), cache=tmp_path / "c.sqlite", inject="steps", concurrency=2, **options
    )


def test_k_repeats_make_k_seeded_calls_per_record_and_keep_them(tmp_path, clip):
    target = Scripted(script=seeded)
    result = run(tmp_path, clip, target)
    assert result.counts.target_calls == len(target.log) == 5 * 2 * K
    assert {c["temperature"] for c in target.log} == {0.8}
    asked = Counter((re.search(r"\(#(\w+)\)", c["text"]).group(1), "Reasoning steps" in c["text"], c["seed"]) for c in target.log)
    assert asked == Counter({(sid, star, s): 1 for sid in RIGHT for star in (False, True) for s in range(K)})
    rows = results(tmp_path / "run")
    assert len(rows) == 10 and all(r["error"] is None for r in rows)
    for r in rows:
        assert [x["seed"] for x in r["repeats"]] == [0, 1, 2] and r["target_calls"] == K
        assert (r["output"], r["parsed"], r["correct"]) == tuple(r["repeats"][0][k] for k in ("output", "parsed", "correct"))
        want = [s != 2 for s in range(K)] if r["inject"] == "steps" else [s in RIGHT[r["id"]] for s in range(K)]
        assert [x["correct"] for x in r["repeats"]] == want
    assert json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["repeats"] == K


def test_resume_does_not_redo_repeats(tmp_path, clip):
    run(tmp_path, clip, Scripted(script=seeded))
    with sqlite3.connect(tmp_path / "run" / "store.sqlite") as db:  # as if killed before this record was written
        db.execute("DELETE FROM results WHERE id = 'c1' AND inject = 'none'")
    target = Scripted(script=seeded)
    again = run(tmp_path, clip, target)
    assert again.counts.target_calls == len(target.log) == K and {c["seed"] for c in target.log} == {0, 1, 2}
    done = Scripted(script=seeded)
    third = run(tmp_path, clip, done)
    assert done.log == [] and third.counts.samples_skipped == 5
    with pytest.raises(InputError, match="--repeats 3"):
        run(tmp_path, clip, Scripted(script=seeded), repeats=2)


def test_greedy_repeats_are_refused(tmp_path, clip):
    with pytest.raises(InputError, match="--target-temperature above 0"):
        run(tmp_path, clip, Scripted(script=seeded), context={"target_temperature": 0.0})
    with pytest.raises(InputError, match="--repeats must be at least 1"):
        run(tmp_path, clip, Scripted(script=seeded), repeats=0)


def test_the_report_gives_mean_and_sd_across_repeats(tmp_path, clip):
    run(tmp_path, clip, Scripted(script=seeded))
    write_report(tmp_path / "run", resamples=200)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    acc = report["statistics"]["accuracy"]["t"]
    # by hand: each repeat's accuracy over the task's samples, then their mean and sd across repeats
    for task, ids in {"av_compositional": ["c0", "c1", "c2"], "av_geoiq": ["g0", "g1"]}.items():
        per_repeat = [sum(s in RIGHT[i] for i in ids) / len(ids) for s in range(K)]
        entry = acc["none"][task]
        assert entry["repeats"]["k"] == K and entry["repeats"]["per_repeat"] == [round(v, 4) for v in per_repeat]
        assert entry["repeats"]["mean"] == entry["value"] == round(pystats.mean(per_repeat), 4)
        assert entry["repeats"]["sd"] == round(pystats.stdev(per_repeat), 4)
        assert entry["interval"] == "bootstrap" and entry["ci"][0] <= entry["value"] <= entry["ci"][1]
        assert acc["steps"][task]["repeats"]["mean"] == round(2 / 3, 4) and acc["steps"][task]["repeats"]["sd"] == round(
            pystats.stdev([1, 1, 0]), 4
        )
    # the paired difference over each sample's mean across its repeats, by hand
    for task, ids in {"av_compositional": ["c0", "c1", "c2"], "av_geoiq": ["g0", "g1"]}.items():
        before = [len(RIGHT[i]) / K for i in ids]
        after = [2 / 3 for _ in ids]  # with r*: right unless the seed is 2
        cmp = report["statistics"]["comparisons"]["t"]["steps"][task]
        assert cmp["over_repeats"]["difference"] == round((sum(after) - sum(before)) / len(ids), 4)
        low, high = cmp["over_repeats"]["ci"]
        assert low <= cmp["over_repeats"]["difference"] <= high
    text = (tmp_path / "run" / "report.md").read_text()
    assert "over the repeats +0.333" in text  # av_compositional: 2/3 against (2/3 + 1/3 + 0)/3
    assert "0.333 ± 0.333 (3 repeats)" in text  # av_compositional zero-shot: 2/3, 1/3, 0
    assert "mean ± sd across the repeats" in text


def test_one_answer_per_record_without_repeats(tmp_path, clip):
    target = Scripted(script=seeded)
    run(tmp_path, clip, target, repeats=1)
    assert len(target.log) == 10 and all("repeats" not in r for r in results(tmp_path / "run"))
    write_report(tmp_path / "run", resamples=200)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert all("repeats" not in e and e["interval"] == "wilson" for m in report["statistics"]["accuracy"]["t"].values() for e in m.values())
    assert "repeats" not in (tmp_path / "run" / "report.md").read_text()


def test_cli_repeats_at_an_openai_compatible_server(tmp_path, clip, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "not-used")
    manifest = write_manifest(tmp_path, clip, {"av_compositional": 2})
    replies = {"gen": [reasoning_for("#any", 0, None)], "sum": [CAPTION], "eval": ['{"score": 8, "rationale": "ok"}'], "tgt": ["C"]}
    with openai_server(replies) as (url, requests):
        args = ["bench", "run", str(manifest), "--target", f"{url}?model=tgt", "--out", str(tmp_path / "run")]
        args += ["--cache", str(tmp_path / "c.sqlite"), "--generator", f"{url}?model=gen", "--summarizer", f"{url}?model=sum"]
        args += ["--evaluator", f"{url}?model=eval", "--repeats", "2", "--target-temperature", "0.5", "--seed", "4", "--quiet"]
        out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    asked = [r for r in requests if r["model"] == "tgt"]
    assert len(asked) == 2 * 2 * 2 and {r["temperature"] for r in asked} == {0.5}
    assert Counter(r["seed"] for r in asked) == {4: 4, 5: 4}
    assert all([x["seed"] for x in r["repeats"]] == [4, 5] for r in results(tmp_path / "run"))
    greedy = CliRunner().invoke(app, [*args[:5], "--out", str(tmp_path / "other"), "--repeats", "2", "--quiet"])
    assert greedy.exit_code != 0 and "--target-temperature above 0" in greedy.output
