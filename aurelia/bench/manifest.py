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
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from aurelia.bench.metrics import ambiguous_answer, answer_letter
from aurelia.bench.records import Problem, parse_line, pydantic_problems, read_jsonl, read_lines, shown
from aurelia.bench.tasks import Task, builtin_tasks
from aurelia.errors import InputError, MediaError
from aurelia.schemas import Step

ProblemSink = Callable[[Problem], None]


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


MediaCheck = Callable[[str], tuple[Path, str | None]]  # a path as written -> (resolved, why it cannot be used or None)


def check_record(
    obj: Any,
    line: int,
    root: Path,
    tasks: dict[str, Task],
    *,
    check_media: bool = True,
    probe: bool = False,
    media_check: MediaCheck | None = None,
) -> Sample | list[Problem]:
    """A valid Sample (paths as written), or every problem of this line; ``media_check`` (a
    cached one, for a whole manifest) replaces the check of each media file against ``root``."""
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
            path, reason = media_check(p) if media_check else (resolve(p, root), media_problem(resolve(p, root), probe))
            if reason:
                found.append((name, f"{reason} ({shown(path)})"))
    return [Problem(line, f, r) for f, r in found] if found else sample


# problems a Manifest holds for its callers (every one goes to ``on_problem`` as it is found and
# is counted): a manifest of a million bad lines must not hold a million problems
MAX_HELD_PROBLEMS = 1000


@dataclass
class Manifest:
    """A validated manifest: its counts and problems, and its valid samples (media paths
    resolved), read from the file again when asked for (:meth:`iter_samples`): a million lines
    are validated and run without ever being held in memory at once.

    ``problems`` holds the first :data:`MAX_HELD_PROBLEMS` problems; ``problem_count`` and
    ``bad_line_count`` count them all. ``valid_lines`` marks, by line number, the lines that hold
    a valid sample (one byte a line), so that a later pass skips the others without checking
    them again; ``stamp`` (size, modification time) refuses a file changed since."""

    path: Path
    root: Path
    problems: list[Problem] = field(default_factory=list)
    lines: int = 0  # non-blank lines read
    problem_count: int = 0
    bad_line_count: int = 0
    task_counts: Counter[str] = field(default_factory=Counter)  # valid samples per task
    valid_lines: bytearray = field(default_factory=bytearray, repr=False)
    stamp: tuple[int, int] | None = None
    held_samples: list[Sample] | None = field(default=None, repr=False)  # set: these instead of the file's

    @property
    def bad_lines(self) -> list[int]:
        """The lines of the problems held (every bad line when no more than MAX_HELD_PROBLEMS)."""
        return sorted({p.line for p in self.problems})

    @property
    def valid(self) -> int:
        return sum(self.task_counts.values())

    def size(self, tasks: Collection[str] | None = None) -> int:
        """How many valid samples there are (of ``tasks``: all by default)."""
        if self.held_samples is not None:
            return sum(1 for s in self.held_samples if not tasks or s.task in tasks)
        return sum(n for t, n in self.task_counts.items() if not tasks or t in tasks)

    def records(self, tasks: Collection[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, parsed JSON) of each valid line (of ``tasks``), read from the file as it goes."""
        if self.stamp is not None and _stamp(self.path) != self.stamp:
            raise InputError("the manifest changed since it was validated; run again to validate it anew", path=str(self.path))
        for number, text in read_lines(self.source, "manifest"):
            if number < len(self.valid_lines) and self.valid_lines[number]:
                obj = parse_line(number, text)
                if isinstance(obj, dict) and (not tasks or obj.get("task") in tasks):
                    yield number, obj

    def iter_samples(self, tasks: Collection[str] | None = None) -> Iterator[Sample]:
        """The valid samples (of ``tasks``) in manifest order, media paths resolved, one at a time."""
        if self.held_samples is not None:
            yield from (s for s in self.held_samples if not tasks or s.task in tasks)
            return
        for number, obj in self.records(tasks):
            try:
                sample = Sample.model_validate(obj, strict=True)
            except ValidationError as exc:  # a line valid when checked: the file changed under us
                raise InputError(f"line {number} changed since the manifest was validated", path=str(self.path)) from exc
            yield sample.with_media_root(self.root)

    @property
    def samples(self) -> list[Sample]:
        """Every valid sample in a list: for small manifests and callers that need them all at
        once (a run streams them instead); kept once made."""
        if self.held_samples is None:
            self.held_samples = list(self.iter_samples())
        return self.held_samples

    @samples.setter
    def samples(self, samples: list[Sample]) -> None:
        self.held_samples = list(samples)
        self.task_counts = Counter(s.task for s in self.held_samples)

    @property
    def source(self) -> Path:
        """The file, absolute: a later pass reads the same file from any working folder."""
        return self.path.absolute()

    def by_id(self) -> dict[str, Sample]:
        return {s.id: s for s in self.samples}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class ManifestError(InputError):
    """A manifest has bad lines; ``problems`` lists them (the first :data:`MAX_HELD_PROBLEMS`)."""

    def __init__(self, manifest: Manifest) -> None:
        self.problems = manifest.problems
        n = manifest.problem_count
        more = f" (and {n - 1} more: `aurelia bench validate` lists them all)" if n > 1 else ""
        super().__init__(f"{manifest.bad_line_count} of {manifest.lines} lines invalid: {self.problems[0]}{more}", path=str(manifest.path))


class _Checker:
    """One pass over a manifest: each line checked as it is read; media checks cached per path
    (a clip named by many questions is looked at once); ids held once each, for duplicates."""

    def __init__(self, manifest: Manifest, tasks: dict[str, Task], check_media: bool, probe: bool, on_problem: ProblemSink | None) -> None:
        self.manifest, self.tasks, self.check_media, self.probe, self.on_problem = manifest, tasks, check_media, probe, on_problem
        self.first_line: dict[str, int] = {}  # id -> the line it is first on
        self.cached_media: MediaCheck = lru_cache(maxsize=MEDIA_CACHE)(self.media)

    def report(self, problems: list[Problem]) -> None:
        m = self.manifest
        m.bad_line_count += 1
        m.problem_count += len(problems)
        m.problems += problems[: max(0, MAX_HELD_PROBLEMS - len(m.problems))]
        if self.on_problem is not None:
            for problem in problems:
                self.on_problem(problem)

    def media(self, written: str) -> tuple[Path, str | None]:
        path = resolve(written, self.manifest.root)
        return path, media_problem(path, self.probe)

    def line(self, number: int, obj: Any) -> None:
        m = self.manifest
        m.lines += 1
        result = check_record(obj, number, m.root, self.tasks, check_media=self.check_media, media_check=self.cached_media)
        if isinstance(result, list):
            self.report(result)
        elif (first := self.first_line.setdefault(result.id, number)) != number:
            self.report([Problem(number, "id", f"duplicate id {shown(repr(result.id))} (first on line {first})")])
        else:
            if number >= len(m.valid_lines):
                m.valid_lines.extend(bytes(max(number + 1 - len(m.valid_lines), len(m.valid_lines))))
            m.valid_lines[number] = 1
            m.task_counts[result.task] += 1


# distinct media paths whose checks a validation keeps (a manifest names each clip many times, mostly close together)
MEDIA_CACHE = 4096


def validate_manifest(
    path: str | Path,
    media_root: str | Path | None = None,
    *,
    tasks: dict[str, Task] | None = None,
    check_media: bool = True,
    probe: bool = False,
    on_problem: ProblemSink | None = None,
) -> Manifest:
    """Read and check every line, in one pass and little memory; bad lines become problems (each
    given to ``on_problem`` as it is found), never exceptions."""
    path = Path(path)
    # absolute, so that the samples' media paths stay right from any working folder (runs and
    # exports record them as they are here)
    root = (Path(media_root).expanduser() if media_root is not None else path.parent).absolute()
    if media_root is not None and not root.is_dir():
        raise InputError("media root is not a folder", path=str(media_root))
    lines = read_jsonl(path, "manifest")
    manifest = Manifest(path=path, root=root, stamp=_stamp(path))
    checker = _Checker(manifest, builtin_tasks() if tasks is None else tasks, check_media, probe, on_problem)
    for number, obj in lines:
        checker.line(number, obj)
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
    """The validated manifest, its samples to be streamed; any bad line raises
    :class:`ManifestError` unless ``skip_invalid`` (then the valid lines are used and
    ``problems`` says what was left out)."""
    manifest = validate_manifest(path, media_root, tasks=tasks, check_media=check_media, probe=probe)
    if manifest.problem_count and not skip_invalid:
        raise ManifestError(manifest)
    if not manifest.valid:
        raise InputError("no valid samples in the manifest", path=str(path))
    return manifest


def relative_media(path: Path, root: Path) -> str:
    """How a manifest names a media file under ``root``: relative when it can be, POSIX slashes."""
    try:
        return Path(os.path.relpath(path, root)).as_posix() if path.is_relative_to(root) else str(path)
    except ValueError:
        return str(path)
