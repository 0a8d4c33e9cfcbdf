"""Task definitions: one YAML file per task in this folder, loaded by small pure functions.

A task says what kind of answer it wants (``choice``, ``short``, ``sentence``, ``caption``), the
answer instruction the target reads (word for word: :func:`target_instruction`), for a ``short``
task with a closed vocabulary its ``answer_set`` (the target is told the set, a reply is read
into it, and every sample's answer must be in it), its metrics, how they aggregate (``mean`` of
per-sample scores, or ``corpus`` for the COCO caption metrics) and how results break down by
category. A new task is one new YAML file; nothing else changes.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from aurelia.bench.metrics import ACCURACY, COCO_METRICS
from aurelia.bench.records import pydantic_problems, read_text
from aurelia.errors import InputError

AnswerKind = Literal["choice", "short", "sentence", "caption"]
CLOSED_KINDS = ("choice", "short")  # one right answer: accuracy
OPEN_KINDS = ("sentence", "caption")  # free text against references: corpus metrics


class Task(BaseModel):
    """One benchmark task, as declared in its YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    description: str = ""
    answer_kind: AnswerKind
    instruction: str
    metrics: tuple[str, ...]
    aggregation: Literal["mean", "corpus"]
    breakdown: tuple[Literal["category", "category_path"], ...] = ()
    audio_candidates: int = 0  # each sample gives exactly this many candidate audio clips (0: none)
    answer_set: tuple[str, ...] | None = None  # a short task's closed vocabulary, in the dataset's spelling

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        known = (ACCURACY, *COCO_METRICS)
        unknown = [m for m in self.metrics if m not in known]
        if unknown or not self.metrics:
            raise ValueError(f"metrics must be some of {', '.join(known)}; got {', '.join(unknown) or 'none'}")
        closed = self.answer_kind in CLOSED_KINDS
        if closed and (self.metrics != (ACCURACY,) or self.aggregation != "mean"):
            raise ValueError(f"a {self.answer_kind!r} task is scored by accuracy with mean aggregation")
        if not closed and (ACCURACY in self.metrics or self.aggregation != "corpus"):
            raise ValueError(f"a {self.answer_kind!r} task is scored by the COCO caption metrics with corpus aggregation")
        if self.audio_candidates and self.answer_kind != "choice":
            raise ValueError("audio_candidates needs answer_kind 'choice' (one letter per candidate)")
        if self.answer_set is not None:
            if self.answer_kind != "short":
                raise ValueError("answer_set needs answer_kind 'short' (a choice task's set is its choices)")
            words = [a.strip() for a in self.answer_set]
            if len(words) < 2 or not all(words):
                raise ValueError("answer_set lists at least two answers, none blank")
            if len({w.casefold() for w in words}) < len(words):
                raise ValueError("answer_set lists an answer twice")
        if not self.instruction.strip():
            raise ValueError("instruction must not be blank: it is what the target is told to reply")
        return self

    def in_answer_set(self, answer: str) -> bool:
        """Whether ``answer`` is a member of the closed set (spacing and case aside); True without a set."""
        if self.answer_set is None:
            return True
        return " ".join(answer.split()).casefold() in {" ".join(a.split()).casefold() for a in self.answer_set}


def target_instruction(task: Task) -> str:
    """What the target reads after the question: the task's ``instruction`` as written, and for a
    closed answer set the set itself, so that a reply can name a member rather than guess a form."""
    text = task.instruction.strip()
    if task.answer_set:
        text += f"\nPossible answers: {', '.join(task.answer_set)}."
    return text


def parse_task(data: object, source: str) -> Task:
    """A Task from parsed YAML; an InputError naming ``source`` lists every bad field."""
    if not isinstance(data, dict):
        raise InputError("a task file holds a mapping of fields", path=source)
    try:
        return Task.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(f"{p.field}: {p.reason}" if p.field else p.reason for p in pydantic_problems(0, exc))
        raise InputError(f"invalid task: {reasons}", path=source) from exc


def load_task_file(path: str | Path) -> Task:
    """Read one task YAML file; its ``name`` must match the file name."""
    try:
        data = yaml.safe_load(read_text(path, "task file"))
    except yaml.YAMLError as exc:
        raise InputError(f"bad YAML ({str(exc).splitlines()[0]})", path=str(path)) from exc
    task = parse_task(data, str(path))
    if task.name != Path(path).stem:
        raise InputError(f"the task is named {task.name!r} but its file is {Path(path).name}", path=str(path))
    return task


@cache
def builtin_tasks() -> dict[str, Task]:
    """The AVReasonBench tasks shipped in this folder, by name."""
    folder = resources.files(__package__)
    return {t.name: t for t in (load_task_file(Path(str(f))) for f in sorted(folder.iterdir(), key=str) if f.name.endswith(".yaml"))}


def load_tasks(*extra: str | Path) -> dict[str, Task]:
    """The built-in tasks plus those in ``extra`` YAML files or folders (which may override them)."""
    tasks = dict(builtin_tasks())
    for item in extra:
        p = Path(item)
        files = sorted(p.glob("*.yaml")) if p.is_dir() else [p]
        tasks.update((t.name, t) for t in map(load_task_file, files))
    return tasks


def breakdown_keys(task: Task, category: list[str]) -> list[str]:
    """The category rows a sample counts in: each label, and/or the labels joined with '/'."""
    keys: list[str] = []
    if "category" in task.breakdown:
        keys += category
    if "category_path" in task.breakdown and len(category) > 1:
        keys.append("/".join(category))
    return list(dict.fromkeys(keys))
