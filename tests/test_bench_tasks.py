"""Task files: the seven AVReasonBench tasks load from YAML; a new task is one file; bad files
are typed errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurelia.bench.metrics import COCO_METRICS
from aurelia.bench.tasks import breakdown_keys, builtin_tasks, load_task_file, load_tasks, target_instruction
from aurelia.errors import InputError

SHORT = "name: t\ntitle: T\nanswer_kind: short\ninstruction: x\nmetrics: [accuracy]\naggregation: mean\n"
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
        (f"{SHORT}answer_set: [a]\n", "at least two answers"),
        (f"{SHORT}answer_set: [a, ' A ']\n", "an answer twice"),
        (f"{SHORT}answer_set: [a, '  ']\n", "none blank"),
        (f"{SHORT}answer_set: [yes, no]\n", "answer_set.0"),  # YAML reads a bare yes as true: quote it
        (SHORT.replace("short", "choice") + "answer_set: [a, b]\n", "needs answer_kind 'short'"),
        (SHORT.replace("instruction: x", "instruction: '  '"), "instruction must not be blank"),
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


def test_music_avqa_declares_its_closed_answer_set() -> None:
    task = builtin_tasks()["music_avqa"]
    answers = task.answer_set or ()
    assert len(answers) == 42 and {"yes", "no", "zero", "ten", "middle", "outdoor", "simultaneously", "acoustic_guitar", "suona"} <= set(
        answers
    )
    assert task.in_answer_set(" Acoustic_Guitar ") and not task.in_answer_set("acoustic guitar") and not task.in_answer_set("guitar")
    text = target_instruction(task)
    assert text.startswith(task.instruction) and text.endswith("Possible answers: yes, no, zero, one, two, three, four, five, six, seven, "
        "eight, nine, ten, more than ten, left, middle, right, indoor, outdoor, simultaneously, accordion, acoustic_guitar, bagpipe, banjo, bassoon, "
        "cello, clarinet, congas, drum, electric_bass, erhu, flute, guzheng, piano, pipa, saxophone, suona, trumpet, tuba, ukulele, "
        "violin, xylophone.")  # fmt: skip
    assert target_instruction(builtin_tasks()["av_meme"]) == builtin_tasks()["av_meme"].instruction
