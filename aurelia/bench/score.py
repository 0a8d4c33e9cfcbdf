"""Score raw model outputs (``{"id", "output"}`` lines) against a manifest: per task, per category.

The result is plain JSON: ``tasks`` (each task's metrics, ``n`` and ``unparsed``), ``categories``
(the same per category, for tasks that declare a breakdown), ``missing`` (manifest samples with
no prediction, scored as unparsed and wrong), ``judge`` (only with a judge, apart from the
metrics) and ``samples`` (``id``, ``task``, ``parsed``: the letter or normalised answer, null
when unparsed, and ``correct``: null for open answers). Outputs of models run elsewhere are
scored the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from aurelia.bench.judge import judge_answers
from aurelia.bench.manifest import Manifest, Sample, load_manifest
from aurelia.bench.metrics import ACCURACY, accuracy, corpus_scores, is_correct, read_output, tokenize_pairs
from aurelia.bench.records import Problem, read_jsonl, shown
from aurelia.bench.tasks import OPEN_KINDS, Task, breakdown_keys, builtin_tasks
from aurelia.errors import InputError
from aurelia.models.registry import RoleModel


def read_predictions(path: str | Path) -> dict[str, str]:
    """{id: output}; every bad line (bad JSON, wrong type, duplicate id) is listed in one InputError."""
    problems: list[Problem] = []
    out: dict[str, str] = {}
    for line, obj in read_jsonl(path, "predictions file"):
        if isinstance(obj, Problem):
            problems.append(obj)
        elif not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not isinstance(obj.get("output"), str):
            problems.append(Problem(line, None, 'a prediction is {"id": "<string>", "output": "<string>"}'))
        elif obj["id"] in out:
            problems.append(Problem(line, "id", f"duplicate id {shown(repr(obj['id']))}"))
        else:
            out[obj["id"]] = obj["output"]
    if problems:
        listed = "; ".join(map(str, problems[:5])) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InputError(f"{len(problems)} bad prediction lines: {listed}", path=str(path))
    return out


@dataclass(frozen=True)
class Row:
    """One scored sample."""

    sample: Sample
    task: Task
    output: str  # the raw output ("" when missing): what a judge reads
    parsed: str | None
    correct: bool | None


Tokens = tuple[dict[str, str], dict[str, list[str]]]  # PTB-tokenised open answers and references, by id


def _rows(samples: list[Sample], predictions: dict[str, str], tasks: dict[str, Task]) -> list[Row]:
    rows = []
    for s in samples:
        task = tasks[s.task]
        output = predictions.get(s.id, "")
        parsed = read_output(output, task.answer_kind, s.choices, answer_set=task.answer_set)
        correct = is_correct(parsed, task.answer_kind, s.answer, s.references or [], s.choices, answer_set=task.answer_set)
        rows.append(Row(s, task, output, parsed, correct))
    return rows


def _metrics(rows: list[Row], tokens: Tokens) -> dict[str, Any]:
    """The task's metrics over ``rows``, then ``n`` and ``unparsed``."""
    task = rows[0].task
    if task.answer_kind in OPEN_KINDS:
        cands, refs = tokens
        ids = [r.sample.id for r in rows]
        values: dict[str, Any] = corpus_scores({i: cands[i] for i in ids}, refs, task.metrics)
    else:
        values = {ACCURACY: accuracy([bool(r.correct) for r in rows])}
    return values | {"n": len(rows), "unparsed": sum(r.parsed is None for r in rows)}


def score(
    samples: list[Sample],
    predictions: dict[str, str],
    *,
    tasks: dict[str, Task] | None = None,
    judge: str | BaseChatModel | RoleModel | None = None,
    allow_unknown_ids: bool = False,
) -> dict[str, Any]:
    """Score ``predictions`` ({id: raw output}) for ``samples``; see the module docstring for the shape."""
    tasks = builtin_tasks() if tasks is None else tasks
    known = {s.id for s in samples}
    unknown = sorted(set(predictions) - known)
    if unknown and not allow_unknown_ids:
        raise InputError(
            f"{len(unknown)} predictions name ids that are not in the manifest: {', '.join(shown(u, 80) for u in unknown[:5])}"
        )
    rows, tokens = scored_rows(samples, predictions, tasks)
    result = summarize(samples, predictions, rows, tokens)
    samples_out = [{"id": r.sample.id, "task": r.sample.task, "parsed": r.parsed, "correct": r.correct} for r in rows]
    if judge is not None:
        result["judge"], verdicts = _judge(rows, judge)
        for entry in samples_out:
            if entry["id"] in verdicts:
                entry["judge"] = verdicts[entry["id"]]
    result["samples"] = samples_out
    return result


def scored_rows(samples: list[Sample], predictions: dict[str, str], tasks: dict[str, Task]) -> tuple[list[Row], Tokens]:
    """Each sample read and judged (a missing prediction is unparsed), and the open answers and
    their references PTB-tokenised (one Java call): what every metric, and the report's
    intervals, are computed from."""
    rows = _rows(samples, predictions, tasks)
    open_rows = [r for r in rows if r.task.answer_kind in OPEN_KINDS]
    tokens = tokenize_pairs({r.sample.id: r.parsed or "" for r in open_rows}, {r.sample.id: r.sample.all_references() for r in open_rows})
    return rows, tokens


def summarize(samples: list[Sample], predictions: dict[str, str], rows: list[Row], tokens: Tokens) -> dict[str, Any]:
    """``tasks``, ``categories`` and ``missing`` of :func:`score` from :func:`scored_rows`."""
    by_task: dict[str, list[Row]] = defaultdict(list)
    by_category: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_task[r.sample.task].append(r)
        for key in breakdown_keys(r.task, r.sample.category):
            by_category[r.sample.task][key].append(r)
    result: dict[str, Any] = {
        "tasks": {name: _metrics(task_rows, tokens) for name, task_rows in by_task.items()},
        "categories": {name: {k: _metrics(v, tokens) for k, v in sorted(cats.items())} for name, cats in by_category.items()},
        "missing": [s.id for s in samples if s.id not in predictions],
    }
    return result


def _judge(rows: list[Row], judge: str | BaseChatModel | RoleModel) -> tuple[dict[str, Any], dict[str, bool | None]]:
    """The judge's accuracy per task over the non-choice samples, and its verdict per sample."""
    judged = [r for r in rows if r.task.answer_kind != "choice"]
    judgement = judge_answers([(r.sample, r.output.strip() or None) for r in judged], judge)
    ids: dict[str, list[str]] = defaultdict(list)
    for r in judged:
        ids[r.sample.task].append(r.sample.id)
    report = {"model": judgement.model, "tasks": {t: judgement.summary(i) for t, i in ids.items()}, "failures": judgement.failures}
    return report, judgement.verdicts


def score_files(
    manifest: str | Path | Manifest,
    predictions: str | Path,
    *,
    media_root: str | Path | None = None,
    skip_invalid: bool = False,
    judge: str | BaseChatModel | RoleModel | None = None,
    tasks: dict[str, Task] | None = None,
) -> dict[str, Any]:
    """Score a predictions JSONL against a manifest file (its media need not be on this machine)."""
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest, media_root, skip_invalid=skip_invalid, tasks=tasks, check_media=False)
    return score(manifest.samples, read_predictions(predictions), tasks=tasks, judge=judge, allow_unknown_ids=skip_invalid)
