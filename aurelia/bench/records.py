"""JSONL in and out, and the one shape of a problem found in a line (line number, field, reason).

Manifests, predictions and importers all read and write JSONL; they share this so that every
bad line is reported the same way, and a file that cannot be read is a typed error naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aurelia.errors import InputError


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


def read_text(path: str | Path, what: str = "file") -> str:
    """The file's text, or an InputError naming it (missing, a folder, unreadable, not UTF-8)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found", path=str(path))
    if p.is_dir():
        raise InputError(f"{what} is a folder, not a file", path=str(path))
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the {what} ({exc.strerror or exc})", path=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"the {what} is not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(path)) from exc


def iter_jsonl(text: str) -> Iterator[tuple[int, Any | Problem]]:
    """(line number, parsed value or a Problem) for each non-blank line, numbered from 1."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, Problem(number, None, f"bad JSON ({exc.msg} at column {exc.colno})")


def pydantic_problems(line: int, exc: ValidationError) -> list[Problem]:
    """One problem per field that failed validation, with a short reason (and the type given)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or None
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
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    except OSError as exc:
        raise InputError(f"cannot write ({exc.strerror or exc})", path=str(path)) from exc
    return n
