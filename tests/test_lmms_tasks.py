"""Music-AVQA and AVSD as lmms-eval task folders: what the writer puts there, how lmms-eval reads
its YAML, what the target reads, and metrics that are ``aurelia bench``'s numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lmms_eval.utils import load_yaml_config

from aurelia.bench.manifest import ManifestError, Sample, load_manifest
from aurelia.bench.score import score
from aurelia.errors import InputError
from aurelia.lmms.tasks import utils, write_task_folder
from aurelia.lmms.tasks.__main__ import main


@pytest.fixture
def manifest(tmp_path: Path, clip: Path) -> Path:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "c.mp4").write_bytes(clip.read_bytes())
    lines = [
        {"id": "m0", "task": "music_avqa", "video": "media/c.mp4", "question": "Is there sound at the start?", "answer": "yes"},
        {"id": "m1", "task": "music_avqa", "video": "media/c.mp4", "question": "How many instruments play?", "answer": "two"},
        {"id": "m2", "task": "music_avqa", "video": "media/c.mp4", "question": "Is the screen blue at the end?", "answer": "no"},
        {
            "id": "d0",
            "task": "avsd",
            "video": "media/c.mp4",
            "question": "what colour comes last?",
            "answer": "the last colour is green",
            "references": ["it ends on a green screen"],
            "history": [{"question": "is there sound?", "answer": "yes, a tone at first"}],
        },
        {
            "id": "d1",
            "task": "avsd",
            "video": "media/c.mp4",
            "question": "is it silent at the end?",
            "answer": "yes it is silent at the end",
        },
        {"id": "x0", "task": "av_compositional", "video": "media/c.mp4", "question": "Order?", "choices": ["a", "b"], "answer": "a"},
    ]
    path = tmp_path / "manifest.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def docs(folder: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{task}.jsonl").read_text().splitlines()]


def test_the_folder_holds_templates_task_files_and_resolved_samples(manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "tasks"
    assert write_task_folder(manifest, out) == {"aurelia_music_avqa": 3, "aurelia_avsd": 2}  # av_compositional is not one of them
    assert sorted(p.name for p in out.iterdir()) == [
        "_avsd.yaml", "_music_avqa.yaml", "avsd.jsonl", "avsd.yaml", "music_avqa.jsonl", "music_avqa.yaml",
    ]  # fmt: skip
    samples = [utils.sample_of(d) for d in docs(out, "music_avqa")]
    assert [s.id for s in samples] == ["m0", "m1", "m2"]
    assert samples[0] == load_manifest(manifest).by_id()["m0"] and Path(samples[0].video).is_absolute()
    config = load_yaml_config(str(out / "music_avqa.yaml"))  # as lmms-eval reads it, functions imported
    assert config["task"] == "aurelia_music_avqa" and config["dataset_path"] == "json"
    assert config["dataset_kwargs"]["data_files"]["test"] == str(out / "music_avqa.jsonl")  # made absolute by lmms-eval
    assert config["doc_to_text"] is utils.doc_to_text and config["metric_list"][0]["aggregation"] is utils.aggregate_accuracy
    avsd = load_yaml_config(str(out / "avsd.yaml"))
    assert [m["metric"] for m in avsd["metric_list"]] == ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"]


def test_the_target_reads_the_bench_s_zero_shot_text(manifest: Path, tmp_path: Path) -> None:
    write_task_folder(manifest, tmp_path / "tasks")
    music = docs(tmp_path / "tasks", "music_avqa")[1]
    text = utils.doc_to_text(music)
    assert text.startswith("Question: How many instruments play?") and "Possible answers: yes, no, zero" in text
    assert utils.doc_to_visual(music) == [utils.sample_of(music).video] and utils.doc_to_target(music) == "two"
    dialog = utils.doc_to_text(docs(tmp_path / "tasks", "avsd")[0])
    assert "Earlier in this dialog:\nQ: is there sound?\nA: yes, a tone at first" in dialog and "one short, natural sentence" in dialog


def test_music_avqa_accuracy_is_aurelia_bench_s(manifest: Path, tmp_path: Path) -> None:
    write_task_folder(manifest, tmp_path / "tasks")
    outputs = {"m0": "Yes.", "m1": "2", "m2": "I cannot tell"}  # right, right (numbers as words), unparsed
    items = [utils.process_results(d, [outputs[d["id"]]])["accuracy"] for d in docs(tmp_path / "tasks", "music_avqa")]
    samples = [s for s in load_manifest(manifest).samples if s.task == "music_avqa"]
    expected = score(samples, outputs)["tasks"]["music_avqa"]
    assert utils.aggregate_accuracy(items) == expected["accuracy"]
    assert expected["unparsed"] == 1 and 0 < expected["accuracy"] < 1


def test_avsd_caption_metrics_are_aurelia_bench_s(manifest: Path, tmp_path: Path) -> None:
    write_task_folder(manifest, tmp_path / "tasks")
    outputs = {"d0": "it ends on green", "d1": "yes it is silent"}
    results = [utils.process_results(d, [outputs[d["id"]]]) for d in docs(tmp_path / "tasks", "avsd")]
    samples = [s for s in load_manifest(manifest).samples if s.task == "avsd"]
    expected = score(samples, outputs)["tasks"]["avsd"]
    for metric in ("Bleu_1", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr"):
        assert getattr(utils, f"aggregate_{metric}")([r[metric] for r in results]) == expected[metric]
    assert expected["Bleu_1"] > 0


def test_a_manifest_without_these_tasks_or_with_bad_lines_is_refused(manifest: Path, tmp_path: Path, clip: Path) -> None:
    other = tmp_path / "other.jsonl"
    other.write_text(
        json.dumps({"id": "x", "task": "av_compositional", "video": str(clip), "question": "Order?", "choices": ["a", "b"], "answer": "a"})
        + "\n"
    )
    with pytest.raises(InputError, match="no music_avqa or avsd samples"):
        write_task_folder(other, tmp_path / "t1")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(manifest.read_text() + '{"id": "m9", "task": "music_avqa"}\n')
    with pytest.raises(ManifestError, match="line 7"):
        write_task_folder(bad, tmp_path / "t2")
    assert not (tmp_path / "t2").exists()


def test_python_m_aurelia_lmms_tasks(manifest: Path, tmp_path: Path, capsys) -> None:
    assert main([str(manifest), str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "aurelia_music_avqa: 3 samples" in printed and f"--include_path {tmp_path / 'out'}" in printed
    assert main([str(tmp_path / "missing.jsonl"), str(tmp_path / "o2")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    assert Sample.model_validate_json(docs(tmp_path / "out", "avsd")[0]["aurelia_sample"]).history
