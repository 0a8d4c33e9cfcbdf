"""Importers: the datasets' released formats in, manifest lines out, with counts.

``music-avqa`` (the MUSIC-AVQA annotation JSON, v1.0 and v2.0; answers in the field spelled
``anser``), ``avsd`` (the DSTC7/DSTC8 dialog JSON), ``authors`` (the reasoning records of the
Aurelia authors' generation script, imported as ``reasoning``), and ``jsonl``/``csv`` with a
column mapping for everything else. Every record goes through the manifest's own validation;
what fails is skipped and counted by reason (the field, and in ``--skipped FILE`` its value),
never silently dropped. Videos are found through one index of the media root, in any subfolder.
Media paths are written relative to the manifest's folder when the media lie under it, else
absolute (see :mod:`aurelia.bench.manifest`).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurelia.bench.manifest import Sample, check_record, media_problem, relative_media, resolve, validate_manifest
from aurelia.bench.records import Problem, read_jsonl, read_text, shown, write_jsonl
from aurelia.bench.tasks import Task, builtin_tasks
from aurelia.errors import InputError

FORMATS = ("music-avqa", "avsd", "authors", "jsonl", "csv")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi")
PLACEHOLDER = re.compile(r"<[^<>\s]+>")
UNDISCLOSED = "__UNDISCLOSED__"


@dataclass
class ImportReport:
    """What an import did: records read, samples imported, records skipped by reason; ``entries``
    holds each skipped record with its reason (for ``--skipped FILE``), ``notes`` what a user
    needs to know when little was found (which file names were looked for, and where)."""

    format: str
    read: int = 0
    imported: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    entries: list[dict[str, Any]] = field(default_factory=list, repr=False)
    notes: list[str] = field(default_factory=list)
    unfound: list[str] = field(default_factory=list, repr=False)  # media names looked for in vain

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "read": self.read,
            "imported": self.imported,
            "skipped": dict(self.skipped),
            **({"notes": self.notes} if self.notes else {}),
        }

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        why = "; ".join(f"{reason}: {n}" for reason, n in self.skipped.most_common())
        return f"read {self.read}, imported {self.imported}, skipped {skipped}" + (f" ({why})" if why else "")


class Skip(str):
    """A record that cannot become a sample: the reason (the field, counted in the summary) and
    ``detail``, the same with the record's own value (written to ``--skipped FILE``)."""

    detail: str
    value: str | None  # the name looked for, when a file was not found

    def __new__(cls, reason: str, detail: str | None = None, value: str | None = None) -> Skip:
        obj = super().__new__(cls, reason)
        obj.detail = detail or reason
        obj.value = value
        return obj


@dataclass(frozen=True)
class Item:
    """One record of a source: where it is (entry or line number), the entry as released, and
    the manifest line made of it or why not."""

    at: int
    entry: Any
    result: dict | Skip


# --- sources ----------------------------------------------------------------------------------


def load_json(path: str | Path) -> Any:
    text = read_text(path, "source")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"bad JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", path=str(path)) from exc


def _literal_list(value: Any) -> list[str] | None:
    """Music-AVQA stores lists as strings ('["Audio", "Counting"]'), v2.0 entries sometimes as
    lists; None if it is not a list."""
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


def _ext_list() -> str:
    return ", ".join(VIDEO_EXTENSIONS[:-1]) + f" or {VIDEO_EXTENSIONS[-1]}"


class MediaIndex:
    """Every video file under a folder, by name without extension: one walk of the folder and all
    its subfolders (the released layouts put videos in subfolders such as
    ``MUSIC-AVQA-videos-Real/`` and ``MUSIC-AVQA-videos-Synthetic/``), never a search per question."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.by_stem: dict[str, list[Path]] = {}
        self.files = 0
        seen: set[tuple[int, int]] = set()
        for folder, dirs, files in os.walk(self.root, followlinks=True, onerror=lambda _: None):
            try:
                st = os.stat(folder)
            except OSError:
                dirs[:] = []
                continue
            if (st.st_dev, st.st_ino) in seen:  # a link back up the tree: walked once
                dirs[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
            dirs.sort()
            for name in sorted(files):
                stem, ext = os.path.splitext(name)
                if ext.lower() in VIDEO_EXTENSIONS:
                    self.by_stem.setdefault(stem, []).append(Path(folder) / name)
                    self.files += 1

    def find(self, stem: str) -> Path | Skip | None:
        """The one video named ``stem``; a Skip when several folders hold one (which is meant is
        unknown); None when there is none. In one folder, the extension listed first wins."""
        found = self.by_stem.get(stem, [])
        if len({p.parent for p in found}) > 1:
            where = ", ".join(relative_media(p, self.root) for p in found[:4])
            return Skip("video named twice under the media root", f"video {stem!r} is in more than one folder: {where}")
        ranked = sorted(found, key=lambda p: VIDEO_EXTENSIONS.index(p.suffix.lower()))
        return ranked[0] if ranked else None

    def missing(self, field_name: str, stem: str) -> Skip:
        return Skip(
            f"{field_name}: no video file of that name under the media root",
            f"{field_name} {stem!r}: no file {stem}{_ext_list()} in {self.root} or its subfolders",
            value=stem,
        )

    def note(self, wanted: list[str]) -> str:
        """Which names were looked for and where, for an import that found (almost) nothing."""
        examples = ", ".join(f"{w}{VIDEO_EXTENSIONS[0]}" for w in wanted[:3])
        held = sorted(self.by_stem)[:3]
        holds = f"it holds {self.files} video files" + (f" (e.g. {', '.join(held)})" if held else "")
        return (
            f"looked for {len(wanted)} videos by name with the extensions {_ext_list()} (e.g. {examples}) "
            f"in {self.root} and all its subfolders; {holds}"
        )


def fill_placeholders(template: str, values: list[str]) -> str | None:
    """Music-AVQA's ``<Object>``, ``<FL>``… filled in order by ``templ_values``; None if too few values."""
    slots = PLACEHOLDER.findall(template)
    if len(values) < len(slots):
        return None
    it = iter(values)
    return PLACEHOLDER.sub(lambda _: next(it), template)


def clean_text(text: str) -> str:
    """Full-width forms as their ASCII ones (the released '？'), one space between words, none
    before the closing punctuation."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return re.sub(r"\s+([?.!,])", r"\1", text)


def render_question(template: str, values: list[str]) -> str | None:
    """The question as the dataset's authors render it: placeholders filled in order, a value's
    underscores as spaces ('acoustic_guitar' -> 'acoustic guitar'), the full-width '？' and the
    trailing spaces of the released files cleaned; None if there are fewer values than slots."""
    filled = fill_placeholders(clean_text(template), [clean_text(v.replace("_", " ")) for v in values])
    return None if filled is None else clean_text(filled)


def question_key(video_id: str, template: str, values: list[str], unmatch_audio: str) -> str:
    """A short id for an entry without ``question_id`` (the v2.0 rebalancing questions): a hash of
    what makes the question, so that it is the same in every run and in every released file."""
    material = json.dumps([video_id, clean_text(template), [clean_text(v) for v in values], unmatch_audio], ensure_ascii=False)
    return hashlib.sha256(material.encode()).hexdigest()[:12]


# --- formats ----------------------------------------------------------------------------------


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def music_avqa_entry(item: Any, index: MediaIndex) -> dict | Skip:
    """One released question as a manifest line, or why not (the field and its value)."""
    if not isinstance(item, dict):
        return Skip("entry is not a JSON object", f"entry is {type(item).__name__}: {shown(repr(item), 80)}")
    for name in ("video_id", "question_content"):
        if not _present(item.get(name)):
            return Skip(f"{name}: missing or blank", f"{name} is {shown(repr(item.get(name)), 80)}")
    video_id, template = str(item["video_id"]).strip(), str(item["question_content"])
    deleted = item.get("question_deleted", 0)
    if deleted not in (0, None, False, "0", "False", "false", ""):
        return Skip("question_deleted: the authors deleted the question", f"question_deleted is {shown(repr(deleted), 40)}")
    values = _literal_list(item.get("templ_values", "[]"))
    if values is None:
        return Skip("templ_values: not a list", f"templ_values {shown(repr(item.get('templ_values')), 80)} is not a list")
    question = render_question(template, values)
    if question is None:
        return Skip(
            "templ_values: fewer values than the question's placeholders",
            f"templ_values {values!r} for {len(PLACEHOLDER.findall(template))} placeholders in {shown(repr(template), 120)}",
        )
    category = _literal_list(item.get("type", "[]"))
    if category is None:
        return Skip("type: not a list", f"type {shown(repr(item.get('type')), 80)} is not a list")
    answer = item.get("anser", item.get("answer"))
    if not _present(answer):
        return Skip("anser: missing or blank", f"anser is {shown(repr(answer), 40)}")
    video = index.find(video_id)
    if not isinstance(video, Path):
        return video or index.missing("video_id", video_id)
    unmatch = str(item.get("unmatch_audio") or "").strip()
    audio = index.find(unmatch) if unmatch else None
    if unmatch and not isinstance(audio, Path):
        return audio or index.missing("unmatch_audio", unmatch)
    qid = item.get("question_id")
    key = f"music_avqa-{qid}" if _present(qid) else f"music_avqa-v2-{question_key(video_id, template, values, unmatch)}"
    meta: dict[str, Any] = {"video_id": video_id, **({"question_id": qid} if _present(qid) else {}), "template": clean_text(template)}
    if values:
        meta["templ_values"] = values
    for name in ("unmatch_audio", "audio_instrument", "video_instrument"):
        if _present(item.get(name)):
            meta[name] = str(item[name])
    return {
        "id": key,
        "task": "music_avqa",
        "category": category,
        "video": str(video),
        **({"audio": str(audio)} if isinstance(audio, Path) else {}),  # the other clip's sound (answer: no)
        "question": question,
        "answer": str(answer).strip(),
        "meta": meta,
    }


def music_avqa_records(data: Any, index: MediaIndex) -> Iterator[Item]:
    if not isinstance(data, list):
        raise InputError("a Music-AVQA annotation file is a JSON list of questions")
    for n, item in enumerate(data, start=1):
        yield Item(n, item, music_avqa_entry(item, index))


def _answers(value: Any) -> list[str]:
    """A turn's answer(s): one string, or a list in multi-reference test files; undisclosed is none."""
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values if v is not None and str(v).strip() and str(v).strip() != UNDISCLOSED]


def avsd_records(data: Any, index: MediaIndex, all_turns: bool = False) -> Iterator[Item]:
    if not isinstance(data, dict) or not isinstance(data.get("dialogs"), list):
        raise InputError('an AVSD file is a JSON object {"dialogs": [...]}')
    for n, d in enumerate(data["dialogs"], start=1):
        turns = d.get("dialog") if isinstance(d, dict) else None
        if not isinstance(turns, list) or not turns or "image_id" not in d:
            yield Item(n, d, Skip("not a dialog (needs image_id and a non-empty dialog)"))
            continue
        video = index.find(str(d["image_id"]))
        for k in range(len(turns)) if all_turns else [len(turns) - 1]:
            turn = turns[k]
            refs = _answers(turn.get("answer")) if isinstance(turn, dict) else []
            if not isinstance(video, Path):
                yield Item(n, d, video or index.missing("image_id", str(d["image_id"])))
            elif not all(isinstance(t, dict) for t in turns[: k + 1]):
                yield Item(n, d, Skip("a dialog turn is not an object", f"dialog turn {k + 1} or an earlier one is not an object"))
            elif not refs:
                yield Item(n, d, Skip("answer undisclosed or empty", f"turn {k + 1}: answer {shown(repr(turn.get('answer')), 80)}"))
            else:
                yield Item(
                    n,
                    d,
                    {
                        "id": f"avsd-{d['image_id']}-{k + 1}",
                        "task": "avsd",
                        "video": str(video),
                        "question": str(turn.get("question") or ""),
                        "answer": refs[0],
                        "references": refs,
                        "history": [
                            {"question": str(t.get("question") or ""), "answer": (_answers(t.get("answer")) or [""])[0]} for t in turns[:k]
                        ],
                        "meta": {key: d[key] for key in ("image_id", "caption", "summary") if key in d},
                    },
                )


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


def authors_records(source: Path, root: Path, task: str | None = None, join: dict[tuple[str, str], Sample] | None = None) -> Iterator[Item]:
    for n, rec in enumerate(_authors_items(source), start=1):
        yield Item(n, rec, _authors_record(n, rec, root, task, join))


def _authors_record(n: int, rec: Any, root: Path, task: str | None, join: dict[tuple[str, str], Sample] | None) -> dict | Skip:
    if not isinstance(rec, dict) or not {"query", "video_path", "reasoning_steps"} <= rec.keys():
        return Skip("not a reasoning record (needs query, video_path, reasoning_steps)")
    if (reasoning := to_reasoning(rec["reasoning_steps"], rec.get("reasoning_answer"), rec.get("final_answer"))) is None:
        return Skip("no reasoning steps")
    if (video := _media_under(root, rec["video_path"])) is None:
        return Skip("video_path: not found under the media root", f"video_path {shown(repr(rec['video_path']), 120)}: not under {root}")
    if join is not None:
        sample = join.get(_question_key(str(video), str(rec["query"])))
        if sample is None:
            return Skip("no sample of the joined manifest has this video and question")
        return sample.model_dump(exclude_none=True) | {"reasoning": reasoning}  # its media paths: absolute, as loaded
    if task is None or rec.get("answer") in (None, ""):
        return Skip("no task or answer (give --task for records with an answer, or --join MANIFEST)")
    audio = _media_under(root, rec.get("audio_path"))
    return {
        "id": f"authors-{n}",
        "task": task,
        "video": str(video),
        "question": str(rec["query"]),
        "answer": str(rec["answer"]),
        "reasoning": reasoning,
        **({"audio": str(audio)} if audio else {}),
    }


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


def mapped_records(rows: Iterable[tuple[int, Any]], mapping: dict[str, list[str]], task: str | None, stem: str) -> Iterator[Item]:
    for line, row in rows:
        if isinstance(row, Problem) or not isinstance(row, dict):
            yield Item(
                line, None if isinstance(row, Problem) else row, Skip(row.reason if isinstance(row, Problem) else "not a JSON object")
            )
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
        yield Item(line, row, {k: v for k, v in rec.items() if v is not None})


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


def _media_fields(record: dict, place: Callable[[str], str]) -> dict:
    """The record with each media path (video, audio, candidate audios) passed through ``place``."""
    out = dict(record)
    for key in ("video", "audio"):
        if isinstance(out.get(key), str) and out[key].strip():
            out[key] = place(out[key])
    if isinstance(out.get("audio_candidates"), list):
        out["audio_candidates"] = [place(p) if isinstance(p, str) and p.strip() else p for p in out["audio_candidates"]]
    return out


def admit(items: Iterable[Item], root: Path, tasks: dict[str, Task], report: ImportReport, base: Path | None = None) -> list[dict]:
    """Validate each record as a manifest line (a relative media path is under ``root``; every
    file is checked) and count the outcome. Media paths are written relative to ``base`` when the
    file lies under it, else absolute; without a ``base``, absolute."""
    out: list[dict] = []
    seen: dict[str, int] = {}
    root = root.absolute()

    def place(path: str) -> str:
        full = resolve(path, root)
        return relative_media(full, base) if base is not None else str(full)

    for item in items:
        report.read += 1
        rec = item.result
        if not isinstance(rec, Skip):
            rec = _media_fields(rec, lambda p: str(resolve(p, root)))
            result = check_record(rec, 0, root, tasks, check_media=False)
            media = [] if isinstance(result, list) else [(f, r, p) for f, p in result.media() if (r := media_problem(Path(p)))]
            if isinstance(result, list):
                rec = Skip("; ".join(f"{p.field or 'record'}: {p.reason}" for p in result))
            elif media:
                rec = Skip("; ".join(f"{f}: {r}" for f, r, _ in media), "; ".join(f"{f}: {r} ({p})" for f, r, p in media))
            elif result.id in seen:
                rec = Skip("id: the same id as an earlier entry", f"id {result.id!r} is also entry {seen[result.id]}'s")
            else:
                seen[result.id] = item.at
                out.append(_media_fields(result.model_dump(exclude_none=True, exclude_defaults=True), place))
                report.imported += 1
                continue
        report.skipped[str(rec)] += 1
        report.entries.append({"at": item.at, "reason": str(rec), "detail": rec.detail, "entry": item.entry})
        if rec.value is not None:
            report.unfound.append(rec.value)
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
    base: str | Path | None = None,
) -> tuple[list[dict], ImportReport]:
    """Manifest lines (dicts) from a dataset's file, and the counts. Media paths are absolute, or
    relative to ``base`` (the manifest's folder) for the files under it."""
    root = Path(media_root).expanduser()
    if not root.is_dir():
        raise InputError("media root is not a folder", path=str(media_root))
    root = root.absolute()
    source = Path(source)
    tasks = builtin_tasks() if tasks is None else tasks
    if task is not None and task not in tasks:
        raise InputError(f"unknown task {task!r} (known: {', '.join(sorted(tasks))})")
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})")
    if not source.exists():
        raise InputError("source not found", path=str(source))
    index = MediaIndex(root) if fmt in ("music-avqa", "avsd") else None
    makers: dict[str, Callable[[], Iterable[Item]]] = {
        "music-avqa": lambda: music_avqa_records(load_json(source), index),
        "avsd": lambda: avsd_records(load_json(source), index, all_turns),
        "authors": lambda: authors_records(source, root, task, _join_index(join, tasks) if join else None),
        "jsonl": lambda: mapped_records(table_rows(source, "jsonl"), mapping or {}, task, source.stem),
        "csv": lambda: mapped_records(table_rows(source, "csv"), mapping or {}, task, source.stem),
    }
    report = ImportReport(fmt)
    rows = admit(makers[fmt](), root, tasks, report, Path(base).expanduser().absolute() if base is not None else None)
    if index is not None and (wanted := _unfound(report)):
        report.notes.append(index.note(wanted))
    return rows, report


def _unfound(report: ImportReport) -> list[str]:
    """The video names an import looked for and did not find, when they are most of what it read."""
    return list(dict.fromkeys(report.unfound)) if report.unfound and len(report.unfound) * 2 >= report.read else []


def _join_index(join: str | Path, tasks: dict[str, Task]) -> dict[tuple[str, str], Sample]:
    """The joined manifest's samples by (video file name, question); its media paths resolve
    against its own folder, as every manifest's do."""
    manifest = validate_manifest(join, tasks=tasks, check_media=False)
    return {_question_key(s.video, s.question): s for s in manifest.samples}


def import_to_manifest(
    fmt: str, source: str | Path, output: str | Path, media_root: str | Path, *, skipped: str | Path | None = None, **options: Any
) -> ImportReport:
    """Import and write the manifest (JSONL); returns the counts. ``skipped``: a JSONL file of every
    skipped entry with its reason. An import that fails, or imports nothing, never touches an
    existing manifest: it is replaced whole, in one rename, only by a non-empty import."""
    output = Path(output)
    rows, report = import_dataset(fmt, source, media_root, base=output.expanduser().absolute().parent, **options)
    if skipped is not None:
        write_jsonl(skipped, report.entries)
    if not rows:
        notes = "".join(f"; {n}" for n in report.notes)
        raise InputError(f"nothing imported, {output} left as it was: {report.summary()}{notes}", path=str(source))
    write_jsonl(output, rows)
    return report
