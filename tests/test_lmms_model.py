"""The plugin model in this process, around the echo model registered with lmms-eval's own
registry: r* from the reasoning cache into the inner model's prompts, a doc without r* never put
to the target, the baseline passing requests through, and the arguments it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lmms_eval.api.instance import Instance
from lmms_eval.models import MODEL_REGISTRY_V2
from lmms_eval.models.registry_v2 import ModelManifest

from aurelia.bench.cache import key_parts, reasoning_key
from aurelia.bench.manifest import Sample
from aurelia.errors import AureliaError, SettingError
from aurelia.lmms.plugin import Aurelia
from aurelia.lmms.reasoning import NO_ANSWER

STAR = {"steps": [{"step": "Listen to the first second", "answer": "a tone"}], "final_answer": "yes"}
TRAJECTORY = {"iterations": [], "calls": [], "reasoning_star": STAR, "stop_reason": "threshold"}


@pytest.fixture(scope="module", autouse=True)
def echo_registered() -> None:
    MODEL_REGISTRY_V2.register_manifest(ModelManifest(model_id="echo", simple_class_path="lmms_echo.Echo"), overwrite=True)


def request(doc_id: int, prompt: str = "Is there a tone?") -> Instance:
    args = (prompt, {"max_new_tokens": 8}, lambda doc: doc["visuals"], doc_id, "t", "test")
    return Instance("generate_until", args, idx=0, metadata={"task": "t", "doc_id": doc_id, "repeats": 1})


def plugin(tmp_path: Path, clip: Path, **args: object) -> Aurelia:
    model = Aurelia(target="echo", target_args={"record": str(tmp_path / "record.jsonl")}, cache=str(tmp_path / "c.sqlite"), log_dir=str(tmp_path / "logs"), **args)  # fmt: skip
    model.task_dict["t"] = {"test": [{"visuals": [str(clip)]}, {"visuals": [str(tmp_path / "gone.mp4")]}, {"visuals": ["frame.png"]}]}
    return model


def test_r_star_from_the_cache_reaches_the_prompt_and_failed_docs_are_not_asked(tmp_path: Path, clip: Path) -> None:
    model = plugin(tmp_path, clip, max_iterations=2)
    assert model.is_simple and model.inner.task_dict is model.task_dict
    cached = Sample(id="t/test/0", task="t", video=str(clip), question="Is there a tone?", answer=NO_ANSWER)
    parts = key_parts(cached, model.ctx)
    model.reasoner.cache.put(reasoning_key(parts), TRAJECTORY, parts)  # as a run with these settings left it
    assert model.generate_until([request(0), request(1), request(2), request(0)]) == ["yes", "", "", "yes"]
    model.clean()
    seen = [json.loads(line) for line in (tmp_path / "record.jsonl").read_text().splitlines()]
    assert [s["batch"] for s in seen] == [2, 2]  # only doc 0's two requests were put to the target, in one call
    assert seen[0]["prompt"] == "Is there a tone?\n\nReasoning steps to consider:\n1. Listen to the first second"
    log = [json.loads(line) for line in (tmp_path / "logs" / "aurelia_reasoning.jsonl").read_text().splitlines()]
    assert [e["doc_id"] for e in log] == [0, 1, 2]  # one line a doc
    assert (log[0]["source"], log[0]["agent_calls"], log[0]["reasoning_star"]) == ("cache", 0, STAR)
    assert "gone.mp4" in log[1]["error"] and log[1]["source"] is None
    assert log[2]["error"] == "no video among the doc's visuals (image: frame.png)" and log[2]["media"]["ignored"] == ["image: frame.png"]


def test_the_baseline_passes_every_request_through_unchanged(tmp_path: Path, clip: Path) -> None:
    model = plugin(tmp_path, clip, inject="none")
    assert model.reasoner is None
    assert model.generate_until([request(0), request(1)]) == ["yes", "yes"]  # no media check, no agent: the target answers all
    model.clean()
    seen = [json.loads(line) for line in (tmp_path / "record.jsonl").read_text().splitlines()]
    assert [s["prompt"] for s in seen] == ["Is there a tone?", "Is there a tone?"]


def test_lmms_eval_s_batch_size_and_device_reach_the_inner_model_unless_target_args_set_them(tmp_path: Path, clip: Path) -> None:
    model = Aurelia(target="echo", target_args='{"device": "cpu:1"}', batch_size=4, device="cpu", inject="none")
    assert model.inner.kwargs == {"device": "cpu:1", "batch_size": 4}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({}, "target=<model name>"),
        ({"target": "aurelia"}, "not aurelia"),
        ({"target": "echo", "tau": 11}, "threshold"),
        ({"target": "echo", "concurrency": 0}, "concurrency"),
    ],
)
def test_bad_plugin_arguments_are_refused_before_any_model_loads(args: dict, needle: str) -> None:
    with pytest.raises(SettingError, match=needle):
        Aurelia(**args)


def test_a_scored_choice_task_stops_at_a_doc_without_r_star(tmp_path: Path, clip: Path) -> None:
    model = plugin(tmp_path, clip)
    choice = Instance(
        "loglikelihood",
        ("Is there a tone?", " yes", lambda doc: doc["visuals"], 1, "t", "test"),
        0,
        {"task": "t", "doc_id": 1, "repeats": 1},
    )
    with pytest.raises(AureliaError, match=r"no r\* for a doc of a loglikelihood task.*gone\.mp4"):
        model.loglikelihood([choice])
    model.clean()
