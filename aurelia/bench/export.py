"""Export a run's generated reasoning: a fine-tuning set (``sft``) or the authors' record format.

``sft``: one chat example per sample, the paper's second open question (can r* teach a model
instead of prompting it): the system and user turns with the media paths as content blocks,
the question and choices, and an assistant turn with r* (steps and step answers) then the gold
answer (templates ``prompts/sft.txt`` and ``sft_reply.txt``). ``authors``: the records of the
authors' generation script (``query``, ``video_path``, ``audio_path``, ``reasoning_steps``,
``reasoning_answer``, ``final_answer``), plus ``answer`` and ``task``, which part 1's
``authors`` importer reads back (``--join`` or ``--task``). The r* is the run's own (τ, T) r*.
Media are named by absolute paths, whatever the working folder of the run or of the export (a
run records the samples' paths as loaded, absolute; a path an older run recorded relative is
resolved against the media root that run recorded).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurelia.bench.manifest import Sample
from aurelia.bench.metrics import answer_letter
from aurelia.bench.records import write_jsonl
from aurelia.bench.report import RunData, own_answer_correct
from aurelia.bench.store import ResultStore
from aurelia.bench.tasks import CLOSED_KINDS
from aurelia.errors import InputError
from aurelia.parsing import choice_letters
from aurelia.prompts import render
from aurelia.prompts.format import dialog_question, format_choices, format_reasoning

EXPORT_FORMATS = ("sft", "authors")


@dataclass
class ExportReport:
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        why = "; ".join(f"{reason}: {n}" for reason, n in self.skipped.most_common())
        return f"wrote {self.written}, skipped {sum(self.skipped.values())}" + (f" ({why})" if why else "")


def gold_text(sample: Sample) -> str:
    """The gold answer as a model should say it: '(C) green' for multiple choice."""
    if not sample.choices:
        return sample.answer
    letter = answer_letter(sample.answer, sample.choices)
    return f"({letter}) {sample.choices[choice_letters(len(sample.choices)).index(letter)]}" if letter else sample.answer


def absolute_media(sample: Sample, root: Path) -> Sample:
    """The sample with every media path absolute (relative ones resolved against ``root``)."""
    return sample.with_media_root(root.expanduser().absolute())


def sft_example(sample: Sample, star: dict[str, Any]) -> dict[str, Any]:
    question = dialog_question(sample.question, [t.model_dump() for t in sample.history or []])
    prompt = render("sft", question=question, choices=format_choices(sample.choices))
    reply = render("sft_reply", reasoning=format_reasoning(star, "steps_answers"), answer=gold_text(sample)).user
    media = [{"type": "video", "path": sample.video}] + ([{"type": "audio", "path": sample.audio}] if sample.audio else [])
    media += [{"type": "audio", "path": p, "option": chr(ord("A") + i)} for i, p in enumerate(sample.audio_candidates or [])]
    return {
        "id": sample.id,
        "task": sample.task,
        "messages": [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": [*media, {"type": "text", "text": prompt.user.strip()}]},
            {"role": "assistant", "content": reply.strip()},
        ],
    }


def authors_record(sample: Sample, star: dict[str, Any]) -> dict[str, Any]:
    steps = star.get("steps") or []
    return {
        "id": sample.id,
        "task": sample.task,
        "query": sample.question,
        "video_path": sample.video,
        "audio_path": sample.audio or "",
        "reasoning_steps": [s.get("step", "") for s in steps],
        "reasoning_answer": [s.get("answer", "") for s in steps],
        "final_answer": star.get("final_answer", ""),
        "answer": sample.answer,
    }


def export_records(data: RunData, fmt: str, correct_only: bool, report: ExportReport) -> Iterator[dict[str, Any]]:
    root = Path(data.run["settings"].get("media_root") or data.dir)
    for sample in (absolute_media(s, root) for s in data.samples):
        trajectory = data.trajectories.get(sample.id)
        star = data.star(trajectory) if trajectory else None
        task = data.tasks[sample.task]
        if not star or not star.get("steps"):
            report.skipped["no r* (not run or failed)"] += 1
        elif correct_only and task.answer_kind not in CLOSED_KINDS:
            report.skipped["open answer: no right or wrong (--correct-only)"] += 1
        elif correct_only and not own_answer_correct(sample, task, star):
            report.skipped["r*'s own answer is wrong (--correct-only)"] += 1
        else:
            report.written += 1
            yield sft_example(sample, star) if fmt == "sft" else authors_record(sample, star)


def export_reasoning(run_dir: str | Path, output: str | Path, fmt: str = "sft", *, correct_only: bool = False) -> ExportReport:
    """Write the run's r* per sample as JSONL in ``fmt`` (``sft`` or ``authors``)."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    report = ExportReport()
    write_jsonl(output, export_records(RunData(run_dir), fmt, correct_only, report))
    return report


def rebuild_results(run_dir: str | Path) -> tuple[Path, int]:
    """Rewrite RUN/results.jsonl from RUN/store.sqlite, the source of truth (after the export was
    damaged or deleted); returns the file and its number of records."""
    store = ResultStore(run_dir, create=False)
    try:
        return store.write_results()
    finally:
        store.close()
