"""The benchmark manifest: JSONL, one sample a line, validated line by line.

Validation reports every bad line (line number, field, reason) instead of stopping at the
first: bad JSON, a wrong type, a missing or unreadable media file, a duplicate id, an unknown
task, an answer that is not among the choices or not in the task's answer set. Valid lines
stay usable: a runner may go on with them (``skip_invalid=True``). Media paths resolve against a
media root, by default the manifest's folder: the importers write paths relative to the
manifest's own folder, so that a manifest works from any working folder and still works when it
is moved together with its media (absolute paths would tie it to one machine). Loaded samples
carry absolute paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from aurelia.bench.metrics import ambiguous_answer, answer_letter
from aurelia.bench.records import Problem, pydantic_problems, read_jsonl, shown
from aurelia.bench.tasks import Task, builtin_tasks
from aurelia.errors import InputError, MediaError
from aurelia.schemas import Step


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]


class Turn(BaseModel):
    """An earlier dialog turn (AVSD history)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    question: str
    answer: str


class ImportedReasoning(BaseModel):
    """An r* that comes with the sample (e.g. the authors' records): steps, step answers optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: list[Step] = Field(min_length=1)
    final_answer: str = ""


class Sample(BaseModel):
    """One manifest line. ``answer`` is a choice's text or letter for multiple choice, else the
    main reference; ``references`` are further accepted answers / reference sentences."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Text
    task: Text
    category: list[str] = Field(default_factory=list)
    video: Text
    audio: Text | None = None
    audio_candidates: list[Text] | None = None
    question: Text
    choices: list[Text] | None = None
    answer: Text
    references: list[Text] | None = None
    history: list[Turn] | None = None
    reasoning: ImportedReasoning | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    def media(self) -> list[tuple[str, str]]:
        """(field, path) of every media file the sample names."""
        out = [("video", self.video)]
        if self.audio:
            out.append(("audio", self.audio))
        out += [(f"audio_candidates.{i}", p) for i, p in enumerate(self.audio_candidates or [])]
        return out

    def all_references(self) -> list[str]:
        """The answer and the references, without repeats: what an open answer is scored against."""
        return list(dict.fromkeys([self.answer, *(self.references or [])]))

    def with_media_root(self, root: Path) -> Sample:
        """A copy whose media paths are resolved against ``root``."""
        update: dict[str, Any] = {"video": str(resolve(self.video, root))}
        if self.audio:
            update["audio"] = str(resolve(self.audio, root))
        if self.audio_candidates:
            update["audio_candidates"] = [str(resolve(p, root)) for p in self.audio_candidates]
        return self.model_copy(update=update)


def resolve(path: str, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


# the largest media file a manifest may name: every file is hashed for the reasoning cache's key
MAX_MEDIA_BYTES = 16 << 30


def media_problem(path: Path, probe: bool = False) -> str | None:
    """Why a media file cannot be used, or None: a regular, non-empty file of at most
    ``MAX_MEDIA_BYTES``, checked with ``stat`` alone (a FIFO or a device such as ``/dev/zero`` is
    refused without being opened: never waited on, never read); ``probe`` also opens it with PyAV."""
    from aurelia.media.probe import check_readable_file
    from aurelia.media.probe import probe as probe_file

    try:
        if not path.exists():  # also a path with a NUL in it
            return "file not found"
        if path.is_dir():
            return "is a folder, not a file"
        check_readable_file(path, MAX_MEDIA_BYTES)
        if probe:
            probe_file(path)
    except OSError as exc:  # also a name too long for the file system
        return f"cannot read ({exc.strerror or exc})"
    except MediaError as exc:
        return exc.reason
    return None


def _task_problems(sample: Sample, task: Task) -> list[tuple[str, str]]:
    """What the sample lacks or contradicts for its task (choices, answer, candidate audios)."""
    out: list[tuple[str, str]] = []
    n_choices = len(sample.choices or [])
    if task.answer_kind != "choice":
        if sample.choices:
            out.append(("choices", f"task {task.name} takes no choices (its answers are {task.answer_kind} text)"))
    elif not 2 <= n_choices <= 26:
        out.append(("choices", f"task {task.name} needs 2 to 26 choices, got {n_choices}"))
    elif len({c.strip().casefold() for c in sample.choices or []}) < n_choices:
        out.append(("choices", "two choices have the same text"))
    elif ambiguous_answer(sample.answer, sample.choices or []):
        out.append(("answer", f"{shown(repr(sample.answer))} reads as a letter and as the text of another choice"))
    elif answer_letter(sample.answer, sample.choices or []) is None:
        out.append(("answer", f"{shown(repr(sample.answer))} is not among the choices (give a choice's text or its letter)"))
    if not task.in_answer_set(sample.answer):
        out.append(
            (
                "answer",
                f"{shown(repr(sample.answer))} is not in task {task.name}'s answer set (its YAML file lists {len(task.answer_set or ())})",
            )
        )
    n_cands = len(sample.audio_candidates or [])
    if n_cands != task.audio_candidates:
        want = f"exactly {task.audio_candidates}" if task.audio_candidates else "no"
        out.append(("audio_candidates", f"task {task.name} takes {want} candidate audio clips, got {n_cands}"))
    elif n_cands and n_choices != n_cands:
        out.append(("choices", f"give one choice per candidate audio clip ({n_cands}), got {n_choices}"))
    return out


def check_record(
    obj: Any, line: int, root: Path, tasks: dict[str, Task], *, check_media: bool = True, probe: bool = False
) -> Sample | list[Problem]:
    """A valid Sample (paths as written), or every problem of this line."""
    if isinstance(obj, Problem):
        return [obj]
    if not isinstance(obj, dict):
        return [Problem(line, None, f"a sample is a JSON object, got {type(obj).__name__}")]
    try:
        sample = Sample.model_validate(obj, strict=True)
    except ValidationError as exc:
        return pydantic_problems(line, exc)
    found: list[tuple[str, str]] = []
    task = tasks.get(sample.task)
    if task is None:
        found.append(("task", f"unknown task {shown(repr(sample.task))} (known: {', '.join(sorted(tasks))})"))
    else:
        found += _task_problems(sample, task)
    if check_media:
        for name, p in sample.media():
            if reason := media_problem(resolve(p, root), probe):
                found.append((name, f"{reason} ({shown(resolve(p, root))})"))
    return [Problem(line, f, r) for f, r in found] if found else sample


@dataclass
class Manifest:
    """The valid samples of a manifest (media paths resolved) and the problems of the others."""

    path: Path
    root: Path
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0  # non-blank lines read
    line_of: dict[str, int] = field(default_factory=dict)

    @property
    def bad_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems})

    def by_id(self) -> dict[str, Sample]:
        return {s.id: s for s in self.samples}


class ManifestError(InputError):
    """A manifest has bad lines; ``problems`` lists every one."""

    def __init__(self, manifest: Manifest) -> None:
        self.problems = manifest.problems
        bad = manifest.bad_lines
        more = f" (and {len(self.problems) - 1} more: `aurelia bench validate` lists them all)" if len(self.problems) > 1 else ""
        super().__init__(f"{len(bad)} of {manifest.lines} lines invalid: {self.problems[0]}{more}", path=str(manifest.path))


def validate_manifest(
    path: str | Path,
    media_root: str | Path | None = None,
    *,
    tasks: dict[str, Task] | None = None,
    check_media: bool = True,
    probe: bool = False,
) -> Manifest:
    """Read and check every line; bad lines become problems, never exceptions."""
    path = Path(path)
    # absolute, so that the samples' media paths stay right from any working folder (runs and
    # exports record them as they are here)
    root = (Path(media_root).expanduser() if media_root is not None else path.parent).absolute()
    if media_root is not None and not root.is_dir():
        raise InputError("media root is not a folder", path=str(media_root))
    lines = read_jsonl(path, "manifest")
    tasks = builtin_tasks() if tasks is None else tasks
    manifest = Manifest(path=path, root=root)
    for line, obj in lines:
        manifest.lines += 1
        result = check_record(obj, line, root, tasks, check_media=check_media, probe=probe)
        if isinstance(result, list):
            manifest.problems += result
        elif result.id in manifest.line_of:
            manifest.problems.append(
                Problem(line, "id", f"duplicate id {shown(repr(result.id))} (first on line {manifest.line_of[result.id]})")
            )
        else:
            manifest.line_of[result.id] = line
            manifest.samples.append(result.with_media_root(root))
    return manifest


def load_manifest(
    path: str | Path,
    media_root: str | Path | None = None,
    *,
    skip_invalid: bool = False,
    tasks: dict[str, Task] | None = None,
    check_media: bool = True,
    probe: bool = False,
) -> Manifest:
    """The manifest's samples; any bad line raises :class:`ManifestError` unless ``skip_invalid``
    (then the valid lines are used and ``problems`` says what was left out)."""
    manifest = validate_manifest(path, media_root, tasks=tasks, check_media=check_media, probe=probe)
    if manifest.problems and not skip_invalid:
        raise ManifestError(manifest)
    if not manifest.samples:
        raise InputError("no valid samples in the manifest", path=str(path))
    return manifest


def relative_media(path: Path, root: Path) -> str:
    """How a manifest names a media file under ``root``: relative when it can be, POSIX slashes."""
    try:
        return Path(os.path.relpath(path, root)).as_posix() if path.is_relative_to(root) else str(path)
    except ValueError:
        return str(path)
