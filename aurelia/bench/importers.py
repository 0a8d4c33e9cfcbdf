"""Importers: the datasets' released formats in, manifest lines out, with counts.

``music-avqa`` (the annotation JSON, answers in the field spelled ``anser``), ``avsd`` (the
DSTC7/DSTC8 dialog JSON), ``authors`` (the reasoning records of the Aurelia authors' generation
script, imported as ``reasoning``), and ``jsonl``/``csv`` with a column mapping for everything
else. Every record goes through the manifest's own validation; what fails is skipped and
counted by reason, never silently dropped. Media paths are written relative to the media root.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurelia.bench.manifest import Sample, check_record, media_problem, relative_media, resolve, validate_manifest
from aurelia.bench.records import Problem, read_jsonl, read_text, write_jsonl
from aurelia.bench.tasks import Task, builtin_tasks
from aurelia.errors import InputError

FORMATS = ("music-avqa", "avsd", "authors", "jsonl", "csv")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi")
PLACEHOLDER = re.compile(r"<[^<>\s]+>")
UNDISCLOSED = "__UNDISCLOSED__"


@dataclass
class ImportReport:
    """What an import did: records read, samples imported, records skipped by reason."""

    format: str
    read: int = 0
    imported: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "read": self.read,
            "imported": self.imported,
            "skipped": dict(self.skipped),
        }

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        why = "; ".join(f"{reason}: {n}" for reason, n in self.skipped.most_common())
        return f"read {self.read}, imported {self.imported}, skipped {skipped}" + (f" ({why})" if why else "")


class Skip(str):
    """A record that cannot become a sample, and why."""


# --- sources ----------------------------------------------------------------------------------


def load_json(path: str | Path) -> Any:
    text = read_text(path, "source")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"bad JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", path=str(path)) from exc


def _literal_list(value: Any) -> list[str] | None:
    """Music-AVQA stores lists as strings ('["Audio", "Counting"]'); None if it is not a list."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip() or "[]")
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):  # not a literal; '{[]: 1}'; nested too deep
            return None
    return [str(v) for v in value] if isinstance(value, list | tuple) else None


def is_file(path: Path) -> bool:
    """``Path.is_file``, but a name the system refuses (too long for it) is no file rather than an OSError."""
    try:
        return path.is_file()
    except OSError:
        return False


def find_video(root: Path, stem: str) -> Path | None:
    """``{root}/{stem}.{mp4,mkv,webm,avi}``, the first that exists."""
    return next((p for ext in VIDEO_EXTENSIONS if is_file(p := root / f"{stem}{ext}")), None)


def fill_placeholders(template: str, values: list[str]) -> str | None:
    """Music-AVQA's ``<Object>``, ``<FL>``… filled in order by ``templ_values``; None if too few values."""
    slots = PLACEHOLDER.findall(template)
    if len(values) < len(slots):
        return None
    it = iter(values)
    return PLACEHOLDER.sub(lambda _: next(it), template)


# --- formats ----------------------------------------------------------------------------------


def music_avqa_records(data: Any, root: Path) -> Iterator[dict | Skip]:
    if not isinstance(data, list):
        raise InputError("a Music-AVQA annotation file is a JSON list of questions")
    for item in data:
        if not isinstance(item, dict) or not {"video_id", "question_id", "question_content"} <= item.keys():
            yield Skip("not a question object (needs video_id, question_id, question_content)")
        elif str(item.get("question_deleted", 0)) not in ("0", "False"):
            yield Skip("question deleted")
        elif (values := _literal_list(item.get("templ_values", "[]"))) is None:
            yield Skip("templ_values is not a list")
        elif (question := fill_placeholders(str(item["question_content"]), values)) is None:
            yield Skip("templ_values do not fill every placeholder")
        elif (category := _literal_list(item.get("type", "[]"))) is None:
            yield Skip("type is not a list")
        elif (video := find_video(root, str(item["video_id"]))) is None:
            yield Skip("video not found under the media root")
        else:
            answer = item.get("anser", item.get("answer"))
            yield {
                "id": f"music_avqa-{item['question_id']}",
                "task": "music_avqa",
                "category": category,
                "video": relative_media(video, root),
                "question": question,
                "answer": "" if answer is None else str(answer),
                "meta": {"video_id": str(item["video_id"]), "question_id": item["question_id"]},
            }


def _answers(value: Any) -> list[str]:
    """A turn's answer(s): one string, or a list in multi-reference test files; undisclosed is none."""
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values if v is not None and str(v).strip() and str(v).strip() != UNDISCLOSED]


def avsd_records(data: Any, root: Path, all_turns: bool = False) -> Iterator[dict | Skip]:
    if not isinstance(data, dict) or not isinstance(data.get("dialogs"), list):
        raise InputError('an AVSD file is a JSON object {"dialogs": [...]}')
    for d in data["dialogs"]:
        turns = d.get("dialog") if isinstance(d, dict) else None
        if not isinstance(turns, list) or not turns or "image_id" not in d:
            yield Skip("not a dialog (needs image_id and a non-empty dialog)")
            continue
        video = find_video(root, str(d["image_id"]))
        for k in range(len(turns)) if all_turns else [len(turns) - 1]:
            turn = turns[k]
            refs = _answers(turn.get("answer")) if isinstance(turn, dict) else []
            if video is None:
                yield Skip("video not found under the media root")
            elif not all(isinstance(t, dict) for t in turns[: k + 1]):
                yield Skip("a dialog turn is not an object")
            elif not refs:
                yield Skip("answer undisclosed or empty")
            else:
                yield {
                    "id": f"avsd-{d['image_id']}-{k + 1}",
                    "task": "avsd",
                    "video": relative_media(video, root),
                    "question": str(turn.get("question") or ""),
                    "answer": refs[0],
                    "references": refs,
                    "history": [
                        {"question": str(t.get("question") or ""), "answer": (_answers(t.get("answer")) or [""])[0]} for t in turns[:k]
                    ],
                    "meta": {key: d[key] for key in ("image_id", "caption", "summary") if key in d},
                }


def _step_lines(text: str) -> list[str]:
    """Numbered or bulleted lines ('1.', 'Step 2:', '-') as steps; unnumbered text is one step a line."""
    lines = [re.sub(r"^\s*(?:step\s*\d+\s*[:.)-]|\d+\s*[.):]|[-*•])\s*", "", ln, flags=re.I).strip() for ln in text.splitlines()]
    return [ln for ln in lines if ln]


def to_reasoning(steps: Any, answers: Any = None, final: Any = None) -> dict | None:
    """The authors' ``reasoning_steps`` (text, a list of strings, or of {step, answer}) as an r*."""
    items = _step_lines(steps) if isinstance(steps, str) else list(steps) if isinstance(steps, list) else []
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append({"step": str(item.get("step", item.get("description", ""))), "answer": str(item.get("answer", ""))})
        else:
            out.append({"step": str(item), "answer": ""})
    step_answers = _step_lines(answers) if isinstance(answers, str) else answers if isinstance(answers, list) else []
    if len(step_answers) == len(out):
        for step, ans in zip(out, step_answers, strict=True):
            step["answer"] = step["answer"] or str(ans)
    out = [s for s in out if s["step"].strip()]
    return {"steps": out, "final_answer": "" if final is None else str(final)} if out else None


def _question_key(video: str, question: str) -> tuple[str, str]:
    return Path(video).name, " ".join(question.casefold().split())


def _media_under(root: Path, written: Any) -> Path | None:
    """A path from another machine: as written under the root, else by its file name."""
    if not isinstance(written, str) or not written.strip():
        return None
    return next((p for p in (resolve(written, root), root / Path(written).name) if is_file(p)), None)


def _authors_items(source: Path) -> list[Any]:
    """The records: a JSON file (one object or a list), a JSONL file, or a folder of JSON files."""
    if source.is_dir():
        return [rec for f in sorted(source.glob("*.json")) for rec in _authors_items(f)]
    if source.suffix == ".jsonl":
        return [obj for _, obj in read_jsonl(source, "source")]
    data = load_json(source)
    return data if isinstance(data, list) else [data]


def authors_records(
    source: Path, root: Path, task: str | None = None, join: dict[tuple[str, str], Sample] | None = None
) -> Iterator[dict | Skip]:
    for n, rec in enumerate(_authors_items(source), start=1):
        if not isinstance(rec, dict) or not {"query", "video_path", "reasoning_steps"} <= rec.keys():
            yield Skip("not a reasoning record (needs query, video_path, reasoning_steps)")
        elif (reasoning := to_reasoning(rec["reasoning_steps"], rec.get("reasoning_answer"), rec.get("final_answer"))) is None:
            yield Skip("no reasoning steps")
        elif (video := _media_under(root, rec["video_path"])) is None:
            yield Skip("video not found under the media root")
        elif join is not None:
            sample = join.get(_question_key(str(video), str(rec["query"])))
            if sample is None:
                yield Skip("no sample of the joined manifest has this video and question")
            else:
                yield _relative(sample.model_dump(exclude_none=True) | {"reasoning": reasoning}, root)
        elif task is None or rec.get("answer") in (None, ""):
            yield Skip("no task or answer (give --task for records with an answer, or --join MANIFEST)")
        else:
            audio = _media_under(root, rec.get("audio_path"))
            yield {
                "id": f"authors-{n}",
                "task": task,
                "video": relative_media(video, root),
                "question": str(rec["query"]),
                "answer": str(rec["answer"]),
                "reasoning": reasoning,
                **({"audio": relative_media(audio, root)} if audio else {}),
            }


def _relative(record: dict, root: Path) -> dict:
    """A joined sample's resolved media paths, written relative to the media root again."""
    for key in ("video", "audio"):
        if key in record:
            record[key] = relative_media(Path(record[key]), root)
    if "audio_candidates" in record:
        record["audio_candidates"] = [relative_media(Path(p), root) for p in record["audio_candidates"]]
    return record


LIST_FIELDS = ("category", "choices", "references", "audio_candidates")
JSON_FIELDS = ("history", "reasoning", "meta")


def parse_mapping(pairs: Iterable[str]) -> dict[str, list[str]]:
    """``field=column`` (``choices=A,B,C,D`` gathers several columns) into {field: [columns]}."""
    mapping: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, cols = pair.partition("=")
        if not sep or not cols.strip():
            raise InputError(f"a column mapping is FIELD=COLUMN, got {pair!r}")
        if name.strip() not in Sample.model_fields:
            raise InputError(f"unknown manifest field {name.strip()!r} in --map (fields: {', '.join(Sample.model_fields)})")
        mapping[name.strip()] = [c.strip() for c in cols.split(",")]
    return mapping


def _cell(name: str, value: Any) -> Any:
    """A table cell as the manifest field wants it: lists from JSON or 'a|b', objects from JSON."""
    if isinstance(value, list) and name in LIST_FIELDS:
        return [v if isinstance(v, str) else json.dumps(v) for v in value]
    if isinstance(value, str) and name in LIST_FIELDS + JSON_FIELDS:
        text = value.strip()
        if text[:1] in "[{":
            try:
                return json.loads(text)
            except (ValueError, RecursionError):  # not JSON (or nested too deep, a number too long): validation says why
                return value
        return [v.strip() for v in text.split("|") if v.strip()] if name in LIST_FIELDS else value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def mapped_records(rows: Iterable[tuple[int, Any]], mapping: dict[str, list[str]], task: str | None, stem: str) -> Iterator[dict | Skip]:
    for line, row in rows:
        if isinstance(row, Problem) or not isinstance(row, dict):
            yield Skip(row.reason if isinstance(row, Problem) else "not a JSON object")
            continue
        rec: dict[str, Any] = {}
        for name in Sample.model_fields:
            cols = mapping.get(name, [name])
            values = [row.get(c) for c in cols if row.get(c) not in (None, "")]
            if len(cols) > 1:
                rec[name] = [str(v) for v in values] or None
            elif values:
                rec[name] = _cell(name, values[0])
        if "answer" not in rec and isinstance(rec.get("references"), list) and rec["references"]:
            rec["answer"] = rec["references"][0]  # open answers: the first reference is the main one
        rec.setdefault("id", f"{stem}-{line}")
        if task:
            rec.setdefault("task", task)
        yield {k: v for k, v in rec.items() if v is not None}


def table_rows(source: Path, fmt: str) -> Iterator[tuple[int, Any]]:
    if fmt == "jsonl":
        yield from read_jsonl(source, "source")
        return
    reader = csv.DictReader(io.StringIO(read_text(source, "source")))
    rows = iter(reader)
    while True:
        start = reader.line_num + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's size limit: that row is skipped, the next ones read
            yield start, Problem(start, None, f"bad CSV ({exc})")
            continue
        yield reader.line_num, row


# --- driver -----------------------------------------------------------------------------------


def admit(records: Iterable[dict | Skip], root: Path, tasks: dict[str, Task], report: ImportReport) -> list[dict]:
    """Validate each record as a manifest line (media checked under ``root``) and count the outcome."""
    out: list[dict] = []
    seen: set[str] = set()
    for rec in records:
        report.read += 1
        if isinstance(rec, Skip):
            report.skipped[str(rec)] += 1
            continue
        result = check_record(rec, 0, root, tasks, check_media=False)
        media = [] if isinstance(result, list) else [(f, r) for f, p in result.media() if (r := media_problem(resolve(p, root)))]
        if isinstance(result, list) or media:
            problems = result if isinstance(result, list) else [Problem(0, f, r) for f, r in media]
            report.skipped["; ".join(f"{p.field or 'record'}: {p.reason}" for p in problems)] += 1
        elif result.id in seen:
            report.skipped["duplicate id"] += 1
        else:
            seen.add(result.id)
            out.append(result.model_dump(exclude_none=True, exclude_defaults=True))
            report.imported += 1
    return out


def import_dataset(
    fmt: str,
    source: str | Path,
    media_root: str | Path,
    *,
    all_turns: bool = False,
    task: str | None = None,
    mapping: dict[str, list[str]] | None = None,
    join: str | Path | None = None,
    tasks: dict[str, Task] | None = None,
) -> tuple[list[dict], ImportReport]:
    """Manifest lines (dicts) from a dataset's file, and the counts."""
    root = Path(media_root).expanduser()
    if not root.is_dir():
        raise InputError("media root is not a folder", path=str(media_root))
    source = Path(source)
    tasks = builtin_tasks() if tasks is None else tasks
    if task is not None and task not in tasks:
        raise InputError(f"unknown task {task!r} (known: {', '.join(sorted(tasks))})")
    makers: dict[str, Callable[[], Iterable[dict | Skip]]] = {
        "music-avqa": lambda: music_avqa_records(load_json(source), root),
        "avsd": lambda: avsd_records(load_json(source), root, all_turns),
        "authors": lambda: authors_records(source, root, task, _join_index(join, root, tasks) if join else None),
        "jsonl": lambda: mapped_records(table_rows(source, "jsonl"), mapping or {}, task, source.stem),
        "csv": lambda: mapped_records(table_rows(source, "csv"), mapping or {}, task, source.stem),
    }
    if fmt not in makers:
        raise InputError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
    if not source.exists():
        raise InputError("source not found", path=str(source))
    report = ImportReport(fmt)
    return admit(makers[fmt](), root, tasks, report), report


def _join_index(join: str | Path, root: Path, tasks: dict[str, Task]) -> dict[tuple[str, str], Sample]:
    manifest = validate_manifest(join, root, tasks=tasks, check_media=False)
    return {_question_key(s.video, s.question): s for s in manifest.samples}


def import_to_manifest(fmt: str, source: str | Path, output: str | Path, media_root: str | Path, **options: Any) -> ImportReport:
    """Import and write the manifest (JSONL); returns the counts."""
    rows, report = import_dataset(fmt, source, media_root, **options)
    write_jsonl(output, rows)
    return report
