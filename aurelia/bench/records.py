"""JSONL in and out, and the one shape of a problem found in a line (line number, field, reason).

Manifests, predictions and importers all read and write JSONL; they share this so that every
bad line is reported the same way, and a file that cannot be read is a typed error naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from aurelia.errors import InputError
from aurelia.files import atomic_open


@dataclass(frozen=True)
class Problem:
    """Why one line of a file is unusable; ``field`` is None when the whole line is bad."""

    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}" if self.field else f"line {self.line}: {self.reason}"

    def located(self, path: object) -> str:
        """``FILE:LINE: field: reason``, as compilers report, for one line each on a terminal."""
        return f"{path}:{self.line}: {self.field}: {self.reason}" if self.field else f"{path}:{self.line}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


def shown(value: object, limit: int = 160) -> str:
    """A value from a user's file as an error shows it: on one line (control characters escaped, so
    a line break or a terminal escape stays text) and cut at ``limit`` characters, saying how long
    it was, so that a 5 MB field still makes a one-line error."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value)[: limit + 1])
    return text if len(str(value)) <= limit else f"{text[:limit]}… ({len(str(value))} characters)"


def _existing_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or an InputError when it is missing or a folder."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found", path=str(path))
    if p.is_dir():
        raise InputError(f"{what} is a folder, not a file", path=str(path))
    return p


def read_text(path: str | Path, what: str = "file", errors: str = "strict") -> str:
    """The file's text (a leading byte-order mark dropped), or an InputError naming it (missing,
    a folder, unreadable, not UTF-8); ``errors="surrogateescape"`` keeps bytes that are not UTF-8
    for :func:`iter_jsonl` to report on their own line."""
    p = _existing_file(path, what)
    try:
        return p.read_text(encoding="utf-8-sig", errors=errors)
    except OSError as exc:
        raise InputError(f"cannot read the {what} ({exc.strerror or exc})", path=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"the {what} is not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(path)) from exc


# JSON text escapes every other line break: str.splitlines would also split inside a string at
# U+2028 or U+0085, which ``json.dumps(ensure_ascii=False)`` writes as they are
LINE_BREAK = re.compile(r"\r\n|\r|\n")
NOT_UTF8 = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as errors="surrogateescape" keeps it


def numbered_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line, numbered from 1 (a trailing line break dropped)."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line.removesuffix("\n")


def parse_line(number: int, line: str) -> Any | Problem:
    """One JSONL line's value, or the Problem that says why it cannot be read."""
    if bad := NOT_UTF8.search(line):
        return Problem(number, None, f"not UTF-8 text (byte 0x{ord(bad.group()) - 0xDC00:02x} at column {bad.start() + 1})")
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return Problem(number, None, f"bad JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return Problem(number, None, "bad JSON (nested too deeply)")
    except ValueError:  # Python's limit on the digits of an integer
        return Problem(number, None, "bad JSON (a number too long to read)")


def iter_jsonl(text: str) -> Iterator[tuple[int, Any | Problem]]:
    """(line number, parsed value or a Problem) for each non-blank line, numbered from 1."""
    for number, line in numbered_lines(LINE_BREAK.split(text)):
        yield number, parse_line(number, line)


def read_lines(path: str | Path, what: str = "file") -> Iterator[tuple[int, str]]:
    """:func:`numbered_lines` of a file, read as it goes (a file of any size in little memory).
    The file is opened here (a missing or unreadable one is an InputError at once); universal
    newlines split it exactly as :data:`LINE_BREAK` does, and bytes that are not UTF-8 are kept
    for :func:`parse_line` to report on their own line."""
    p = _existing_file(path, what)
    try:
        handle = p.open(encoding="utf-8-sig", errors="surrogateescape", newline=None)
    except OSError as exc:
        raise InputError(f"cannot read the {what} ({exc.strerror or exc})", path=str(path)) from exc
    return _lines_of(handle, path, what)


def _lines_of(handle: IO[str], path: str | Path, what: str) -> Iterator[tuple[int, str]]:
    with handle:
        try:
            yield from numbered_lines(handle)
        except OSError as exc:
            raise InputError(f"cannot read the {what} ({exc.strerror or exc})", path=str(path)) from exc


def read_jsonl(path: str | Path, what: str = "file") -> Iterator[tuple[int, Any | Problem]]:
    """:func:`iter_jsonl` of a file, streamed: a line that is not UTF-8 is that line's problem, not the whole file's."""
    return ((number, parse_line(number, line)) for number, line in read_lines(path, what))


def pydantic_problems(line: int, exc: ValidationError) -> list[Problem]:
    """One problem per field that failed validation, with a short reason (and the type given)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = shown(".".join(str(p) for p in err["loc"])) or None
        kind = err["type"]
        if kind == "extra_forbidden":
            reason = "unknown field"
        elif kind == "missing":
            reason = "missing (required)"
        else:
            reason = err["msg"].removeprefix("Value error, ")
            reason = reason[0].lower() + reason[1:]
            if kind.endswith("_type"):
                reason += f", got {_json_type(err.get('input'))}"
        out.append(Problem(line, loc, reason))
    return out


def _json_type(value: Any) -> str:
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line (UTF-8, no ASCII escaping); returns the number of rows."""
    p = Path(path)
    n = 0
    try:
        with atomic_open(p) as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    except OSError as exc:
        raise InputError(f"cannot write ({exc.strerror or exc})", path=str(path)) from exc
    return n
