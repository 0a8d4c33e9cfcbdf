"""Task files: the seven AVReasonBench tasks load from YAML; a new task is one file; bad files
are typed errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurelia.bench.metrics import COCO_METRICS
from aurelia.bench.tasks import breakdown_keys, builtin_tasks, load_task_file, load_tasks
from aurelia.errors import InputError

AVREASONBENCH = {"music_avqa", "avsd", "av_captioning", "av_compositional", "av_geoiq", "av_meme", "dance_music"}


def test_the_seven_tasks_are_declared() -> None:
    tasks = builtin_tasks()
    assert set(tasks) == AVREASONBENCH
    assert tasks["music_avqa"].answer_kind == "short"
    assert tasks["music_avqa"].metrics == ("accuracy",)
    for name in ("avsd", "av_captioning"):
        assert tasks[name].metrics == COCO_METRICS
        assert tasks[name].aggregation == "corpus"
    for name in ("av_compositional", "av_geoiq", "av_meme", "dance_music"):
        assert tasks[name].answer_kind == "choice"
        assert "letter" in tasks[name].instruction
    assert tasks["dance_music"].audio_candidates == 4


def test_a_new_task_is_one_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "av_counting.yaml").write_text(
        "name: av_counting\ntitle: AV counting\nanswer_kind: short\ninstruction: Answer with a number.\n"
        "metrics: [accuracy]\naggregation: mean\nbreakdown: [category]\n"
    )
    tasks = load_tasks(tmp_path)
    assert AVREASONBENCH < set(tasks)
    assert tasks["av_counting"].instruction == "Answer with a number."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("name: t\ntitle: T\nanswer_kind: choice\ninstruction: x\nmetrics: [CIDEr]\naggregation: mean\n", "accuracy with mean"),
        ("name: t\ntitle: T\nanswer_kind: caption\ninstruction: x\nmetrics: [accuracy]\naggregation: corpus\n", "COCO caption metrics"),
        ("name: t\ntitle: T\nanswer_kind: short\ninstruction: x\nmetrics: [BLEU]\naggregation: mean\n", "metrics must be"),
        ("name: t\ntitle: T\nanswer_kind: guess\ninstruction: x\nmetrics: [accuracy]\naggregation: mean\n", "answer_kind"),
        ("name: t\ntitle: T\nanswer_kind: short\nmetrics: [accuracy]\naggregation: mean\ncolour: red\n", "instruction: missing"),
        ("name: t\ntitle: T\nanswer_kind: short\nmetrics: [accuracy]\naggregation: mean\ncolour: red\n", "colour: unknown field"),
        ("name: other\ntitle: T\nanswer_kind: short\ninstruction: x\nmetrics: [accuracy]\naggregation: mean\n", "but its file is t.yaml"),
        ("name: [unclosed\n", "bad YAML"),
        ("- a list\n", "mapping"),
    ],
)
def test_bad_task_files_name_the_file_and_the_field(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=r"t\.yaml") as err:
        load_task_file(path)
    assert reason in str(err.value)


def test_category_breakdown_keys() -> None:
    tasks = builtin_tasks()
    assert breakdown_keys(tasks["music_avqa"], ["Audio-Visual", "Counting"]) == ["Audio-Visual", "Counting", "Audio-Visual/Counting"]
    assert breakdown_keys(tasks["av_geoiq"], ["flags"]) == ["flags"]
    assert breakdown_keys(tasks["avsd"], ["anything"]) == []
