"""Scoring raw outputs against a manifest: the JSON shape, unparsed and missing answers, the
category breakdown, the LLM judge (a fake chat model) reported apart, bad prediction files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import fake
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from aurelia.bench import COCO_METRICS, load_manifest, parse_verdict, read_predictions, score, score_files
from aurelia.errors import InputError

SAMPLES = [
    {"id": "c1", "task": "av_compositional", "category": ["order"], "video": "v.mp4", "question": "First?", "choices": ["low", "high"], "answer": "low"},
    {"id": "c2", "task": "av_compositional", "category": ["binding"], "video": "v.mp4", "question": "Colour?", "choices": ["red", "blue"], "answer": "B"},
    {"id": "c3", "task": "av_compositional", "category": ["order"], "video": "v.mp4", "question": "Last?", "choices": ["low", "high"], "answer": "high"},
    {"id": "m1", "task": "music_avqa", "category": ["Audio", "Counting"], "video": "v.mp4", "question": "How many?", "answer": "three"},
    {"id": "m2", "task": "music_avqa", "category": ["Visual", "Location"], "video": "v.mp4", "question": "Where?", "answer": "left"},
    {"id": "k1", "task": "av_captioning", "video": "v.mp4", "question": "Describe.", "answer": "a red screen with a low tone", "references": ["red screen, low hum"]},
    {"id": "k2", "task": "av_captioning", "video": "v.mp4", "question": "Describe.", "answer": "three beeps over a green picture"},
]  # fmt: skip
OUTPUTS = {
    "c1": "The answer is (A).",
    "c2": "I cannot tell.",  # unparsed: wrong, never a default letter
    "c3": "A",  # parsed, wrong
    "m1": "3",
    "m2": "Right.",
    "k1": "a red screen with a low tone",
    # k2 missing: unparsed, and listed
}


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("score")
    return write(folder / "m.jsonl", SAMPLES), write(folder / "p.jsonl", [{"id": k, "output": v} for k, v in OUTPUTS.items()])


@pytest.fixture(scope="module")
def result(files: tuple[Path, Path]) -> dict[str, Any]:
    return score_files(*files)  # the media need not exist on this machine


def test_the_json_shape(result: dict[str, Any]) -> None:
    assert list(result) == ["tasks", "categories", "missing", "samples"]
    assert set(result["tasks"]["av_compositional"]) == {"accuracy", "n", "unparsed"}
    assert set(result["tasks"]["av_captioning"]) == {*COCO_METRICS, "n", "unparsed"}
    assert all(set(s) == {"id", "task", "parsed", "correct"} for s in result["samples"])
    json.dumps(result)  # plain JSON values only


def test_accuracy_counts_unparsed_as_wrong(result: dict[str, Any]) -> None:
    assert result["tasks"]["av_compositional"] == {"accuracy": pytest.approx(1 / 3), "n": 3, "unparsed": 1}
    assert result["tasks"]["music_avqa"] == {"accuracy": 0.5, "n": 2, "unparsed": 0}
    samples = {s["id"]: s for s in result["samples"]}
    assert samples["c1"] == {"id": "c1", "task": "av_compositional", "parsed": "A", "correct": True}
    assert samples["c2"] == {"id": "c2", "task": "av_compositional", "parsed": None, "correct": False}
    assert samples["m1"]["parsed"] == "three" and samples["m1"]["correct"] is True  # read into the task's answer set
    assert samples["m2"]["parsed"] == "right" and samples["m2"]["correct"] is False


def test_open_answers_are_scored_at_corpus_level_and_missing_ones_are_unparsed(result: dict[str, Any]) -> None:
    caption = result["tasks"]["av_captioning"]
    assert (caption["n"], caption["unparsed"]) == (2, 1)
    assert 0 < caption["Bleu_1"] < 1
    assert result["missing"] == ["k2"]
    samples = {s["id"]: s for s in result["samples"]}
    assert samples["k1"] == {"id": "k1", "task": "av_captioning", "parsed": "a red screen with a low tone", "correct": None}
    assert samples["k2"]["parsed"] is None


def test_category_breakdown(result: dict[str, Any]) -> None:
    cats = result["categories"]
    assert cats["av_compositional"]["order"] == {"accuracy": 0.5, "n": 2, "unparsed": 0}
    assert cats["av_compositional"]["binding"] == {"accuracy": 0.0, "n": 1, "unparsed": 1}
    assert cats["music_avqa"]["Audio/Counting"]["accuracy"] == 1.0
    assert cats["music_avqa"]["Location"]["accuracy"] == 0.0
    assert "av_captioning" not in cats  # no breakdown declared


class Broken(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise RuntimeError("judge server down")


def test_the_judge_is_reported_apart_and_never_changes_the_metrics(files: tuple[Path, Path]) -> None:
    manifest = load_manifest(files[0], check_media=False)
    closed = [s for s in manifest.samples if s.task != "av_captioning"]
    outputs = {"c1": "A", "m1": "three", "m2": "on the right side"}
    judge = fake("Yes.", "no")
    result = score(closed, outputs, judge=judge)
    assert result["tasks"]["music_avqa"] == {"accuracy": 0.5, "n": 2, "unparsed": 0}  # exact match unchanged
    assert result["judge"]["tasks"] == {"music_avqa": {"accuracy": 0.5, "n": 2, "unjudged": 0}}
    assert len(judge.seen) == 2  # never asked about choice answers
    prompt = judge.seen[1][-1].content
    assert "Candidate answer: on the right side" in prompt and "- left" in prompt
    samples = {s["id"]: s for s in result["samples"]}
    assert samples["m1"]["judge"] is True and samples["m2"]["judge"] is False
    assert "judge" not in samples["c1"]
    failed = score(closed, outputs, judge=Broken(responses=["x"]))
    assert failed["judge"]["tasks"]["music_avqa"] == {"accuracy": None, "n": 0, "unjudged": 2}
    assert failed["judge"]["failures"][0] == "m1: RuntimeError: judge server down"


@pytest.mark.parametrize(
    ("reply", "verdict"), [("Yes", True), ("**No.**", False), ("correct", True), ("Incorrect!", False), ("maybe", None), ("", None)]
)
def test_judge_verdicts(reply: str, verdict: bool | None) -> None:
    assert parse_verdict(reply) is verdict


def test_bad_prediction_files_list_every_bad_line(tmp_path: Path, files: tuple[Path, Path]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "c1", "output": "A"}\nnot json\n{"id": "c2"}\n{"id": "c1", "output": "B"}\n')
    with pytest.raises(InputError) as err:
        read_predictions(bad)
    message = str(err.value)
    assert message.startswith(f"{bad}: 3 bad prediction lines: line 2: bad JSON")
    assert "line 3: a prediction is" in message and "line 4: id: duplicate id 'c1'" in message
    unknown = write(tmp_path / "unknown.jsonl", [{"id": "zz", "output": "A"}])
    with pytest.raises(InputError, match="1 predictions name ids that are not in the manifest: zz"):
        score_files(files[0], unknown)
    with pytest.raises(InputError, match="predictions file not found"):
        score_files(files[0], tmp_path / "none.jsonl")
