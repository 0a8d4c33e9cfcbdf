"""The report's statistics on runs: a real run with a scripted target that is right more often with
r* (its McNemar p and flip lists against what the records give by hand), Music-AVQA's block table
and majority baseline, and the bootstrap interval of a corpus metric (CIDEr)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import SimpleChatModel

from aurelia.bench import run_benchmark
from aurelia.bench.manifest import Sample
from aurelia.bench.render import write_report
from aurelia.bench.report import build_report
from aurelia.bench.store import ResultStore, write_run_json
from aurelia.testing.chat import agent_models

RIGHT_ZERO_SHOT = {0, 1, 2}
RIGHT_WITH_R = {0, 1, 3, 4, 5, 6, 7}  # up: 3, 4, 5, 6, 7; down: 2


class ScriptedTarget(SimpleChatModel):
    """Answers 'C' (right) or 'A' (wrong) by the sample number in the question and by whether the
    injected reasoning (the scripted generator's step) is in the prompt."""

    @property
    def _llm_type(self) -> str:
        return "scripted-target"

    def _call(self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        text = json.dumps([m.content for m in messages])
        number = int(re.search(r"\(#(\d+)\)", text).group(1))
        right = RIGHT_WITH_R if "Note the colour of the last part" in text else RIGHT_ZERO_SHOT
        return "C" if number in right else "A"


def test_mcnemar_and_flips_equal_the_records(tmp_path, clip):
    lines = [
        {"id": f"s{i}", "task": "av_compositional", "video": str(clip), "question": f"Which colour comes last? (#{i})",
         "choices": ["red", "blue", "green"], "answer": "green"}
        for i in range(10)
    ]  # fmt: skip
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    run = tmp_path / "run"
    run_benchmark(manifest, {"scripted": ScriptedTarget()}, run, models=agent_models(), cache=tmp_path / "c.sqlite", concurrency=1)
    written = write_report(run)

    # by hand, from the records alone
    records = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    correct = {(r["id"], r["inject"]): r["correct"] for r in records}
    ids = [f"s{i}" for i in range(10)]
    up = [i for i in ids if not correct[i, "none"] and correct[i, "steps"]]
    down = [i for i in ids if correct[i, "none"] and not correct[i, "steps"]]
    assert (up, down) == (["s3", "s4", "s5", "s6", "s7"], ["s2"])
    n, k = len(up) + len(down), min(len(up), len(down))
    p = 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n  # 2 · 7/64

    report = json.loads((run / "report.json").read_text())
    stats = report["statistics"]
    cmp = stats["comparisons"]["scripted"]["steps"]["av_compositional"]
    assert cmp["wrong_to_right"] == up and cmp["right_to_wrong"] == down
    assert cmp["mcnemar_p"] == pytest.approx(p) == 0.21875
    assert (cmp["n"], cmp["before"], cmp["after"], cmp["difference"], cmp["excluded"]) == (10, 0.3, 0.7, 0.4, 0)
    assert cmp["ci"][0] <= 0.4 <= cmp["ci"][1]
    for mode, (right, wilson_ci) in {"none": (3, [0.1078, 0.6032]), "steps": (7, [0.3968, 0.8922])}.items():
        entry = stats["accuracy"]["scripted"][mode]["av_compositional"]
        assert entry == {"metric": "accuracy", "value": right / 10, "n": 10, "correct": right, "ci": wilson_ci, "interval": "wilson"}
    md = written["markdown"].read_text()
    lo, hi = cmp["ci"]
    assert f"0.300 → 0.700 (+0.400, 95% CI [{lo:+.3f}, {hi:+.3f}], McNemar p = 0.219; 5 ↑ 1 ↓)" in md
    # the scripted target answers 'C' or 'A'; the gold is always 'C': the majority baseline is right every time
    answers = stats["answers"]["av_compositional"]
    assert answers["gold"] == {"C": 10} and answers["majority"]["answer"] == "C" and answers["majority"]["accuracy"] == 1.0
    assert answers["predicted"]["scripted"] == {"none": {"A": 7, "C": 3}, "steps": {"C": 7, "A": 3}}


MUSIC = [  # (category, gold, zero-shot output, output with r*)
    (["Audio", "Counting"], "two", "two", "two"),
    (["Audio", "Counting"], "three", "one", "three"),
    (["Audio", "Comparative"], "yes", "yes", "no"),
    (["Visual", "Location"], "left", "right", "left"),
    (["Audio-Visual", "Existential"], "yes", "yes", "yes"),
    (["Audio-Visual", "Existential"], "no", "yes", "no"),
    (["Audio-Visual", "Temporal"], "yes", "I do not know", "yes"),
]


def hand_run(tmp_path, task: str, rows: list[tuple[Any, ...]], **fields: Any):
    folder = tmp_path / "run"
    store = ResultStore(folder)
    for order, (category, gold, zero, with_r) in enumerate(rows):
        sid = f"q{order}"
        store.add_sample(Sample(id=sid, task=task, video="clip.mp4", question="?", category=category, answer=gold, **fields), order)
        for inject, output in (("none", zero), ("steps", with_r)):
            store.put_result({"id": sid, "task": task, "category": category, "target": "t", "inject": inject, "output": output,
                              "error": None, "seconds": 0.1})  # fmt: skip
    store.close()
    context = {"threshold": 6, "max_iterations": 3}
    write_run_json(folder, {"targets": ["t"], "context": context, "reasoning": "generate"}, {}, "finished")
    return folder


def test_music_avqa_blocks_and_the_majority_answer(tmp_path):
    run = hand_run(tmp_path, "music_avqa", MUSIC)
    stats = build_report(run)["statistics"]
    table = stats["blocks"]["music_avqa"]["t"]["steps"]
    assert [b["block"] for b in table["blocks"]] == ["Audio", "Visual", "Audio-Visual"]
    audio = table["blocks"][0]
    assert [(t["type"], t["n"], t["correct"]) for t in audio["types"]] == [("Counting", 2, 2), ("Comparative", 1, 0)]
    assert (audio["average"]["n"], audio["average"]["correct"]) == (3, 2)  # pooled over the block's questions
    av = table["blocks"][2]
    assert [t["type"] for t in av["types"]] == ["Existential", "Temporal"] and av["average"]["accuracy"] == 1.0
    assert table["overall"]["correct"] == 6 and table["overall"]["n"] == 7 and len(table["overall"]["ci"]) == 2
    zero = stats["blocks"]["music_avqa"]["t"]["none"]
    assert zero["overall"]["correct"] == 3  # q0 two, q2 yes, q4 yes
    answers = stats["answers"]["music_avqa"]
    assert answers["gold"] == {"yes": 3, "two": 1, "three": 1, "left": 1, "no": 1}
    assert answers["majority"]["answer"] == "yes" and answers["majority"]["correct"] == 3 and answers["majority"]["n"] == 7
    assert answers["predicted"]["t"]["none"]["(unparsed)"] == 1 and answers["predicted"]["t"]["none"]["yes"] == 3
    cmp = stats["comparisons"]["t"]["steps"]["music_avqa"]
    assert cmp["wrong_to_right"] == ["q1", "q3", "q5", "q6"] and cmp["right_to_wrong"] == ["q2"]


def test_a_failed_answer_leaves_its_pair_out(tmp_path):
    run = hand_run(tmp_path, "music_avqa", MUSIC)
    store = ResultStore(run, create=False)
    store.put_result({"id": "q3", "task": "music_avqa", "category": MUSIC[3][0], "target": "t", "inject": "steps", "output": "",
                      "error": "TimeoutError: the target did not answer", "seconds": 0.1})  # fmt: skip
    store.close()
    cmp = build_report(run)["statistics"]["comparisons"]["t"]["steps"]["music_avqa"]
    assert cmp["n"] == 6 and cmp["excluded"] == 1 and "q3" not in cmp["wrong_to_right"]


def test_a_corpus_metric_gets_a_bootstrap_interval(tmp_path):
    rows = [
        ([], "a man plays the guitar", "a man plays a guitar", "a man plays the guitar"),
        ([], "a woman sings on a stage", "someone is talking", "a woman sings on the stage"),
        ([], "two dogs run in a park", "two dogs run in a park", "dogs run"),
        ([], "a child laughs at a clown", "nothing", "a child laughs at the clown"),
    ]
    run = hand_run(tmp_path, "avsd", rows, references=["a person does something"])
    stats = build_report(run, corpus_resamples=30)["statistics"]
    assert stats["method"]["corpus_resamples"] == 30
    report_cider = build_report(run, corpus_resamples=1)["table1"]["scores"]["t"]["steps"]["tasks"]["avsd"]["CIDEr"]
    entry = stats["accuracy"]["t"]["steps"]["avsd"]
    assert entry["metric"] == "CIDEr" and entry["interval"] == "bootstrap" and entry["n"] == 4
    assert entry["value"] == pytest.approx(report_cider, abs=1e-4)  # the same corpus number as Table 1
    assert entry["ci"][0] <= entry["ci"][1] and entry["ci"][0] >= 0
    cmp = stats["comparisons"]["t"]["steps"]["avsd"]
    assert cmp["mcnemar_p"] is None and "wrong_to_right" not in cmp
    assert cmp["difference"] == pytest.approx(cmp["after"] - cmp["before"], abs=2e-4) and len(cmp["ci"]) == 2
    assert "avsd" not in stats["answers"]  # open answers have no answer distribution


def test_the_docs_figure_command_prints_what_the_docs_say(tmp_path):
    script = Path(__file__).parent.parent / "benchmarks" / "report_statistics.py"
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=300, check=True).stdout
    line = "0.517 → 0.550 (+0.033, 95% CI [-0.084, +0.142], McNemar p = 0.683; 29 ↑ 25 ↓)"
    assert line in out and line in (script.parent.parent / "docs" / "bench.md").read_text()
    assert (tmp_path / "run" / "table1.png").read_bytes()[:4] == b"\x89PNG"
