"""Figures in the docs written by the script that measures them, so a stale figure is a diff.

A page marks each block of figures with the script (and arguments) that writes it::

    <!-- figures: benchmarks/memory_runs.py -->
    ...the script's output...
    <!-- /figures -->

Run the script with ``--write-docs`` and it prints as usual, then rewrites that block of the page
with the command and what it printed. ``tests/test_docs.py`` checks that every such block names
a script that exists.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
FLAG = "--write-docs"
START = re.compile(r"<!-- figures: (?P<name>[^>]+?) -->\n")
END = "<!-- /figures -->"


def write_block(page: str | Path, name: str, text: str) -> None:
    """Replace the body of the figures block ``name`` in ``page`` (relative to the repository
    root) with ``text``; a page without that block is an error, never a silent no-op."""
    path = ROOT / page
    old = path.read_text(encoding="utf-8")
    for match in START.finditer(old):
        if match.group("name").strip() != name:
            continue
        end = old.find(END, match.end())
        if end < 0:
            raise SystemExit(f"{page}: the figures block {name!r} has no {END}")
        new = old[: match.end()] + text.rstrip("\n") + "\n" + old[end:]
        path.write_text(new, encoding="utf-8")
        print(f"wrote the figures block {name!r} of {page}", file=sys.stderr)
        return
    raise SystemExit(f"{page}: no block <!-- figures: {name} -->")


class _Tee(io.TextIOBase):
    def __init__(self, out: TextIO) -> None:
        self.out, self.seen = out, io.StringIO()

    def write(self, s: str) -> int:
        self.seen.write(s)
        return self.out.write(s)

    def flush(self) -> None:
        self.out.flush()


def console(command: str, output: str) -> str:
    """A console block: the command after a ``$`` prompt, then what it printed."""
    return f"```console\n$ {command}\n{output.rstrip()}\n```"


def run(main: Callable[[], Any], page: str, name: str | None = None) -> Any:
    """Run a benchmark's ``main``; with ``--write-docs`` (taken out of ``sys.argv`` first) also
    write what it printed into the figures block ``name`` of ``page`` (default: the script's path
    and its arguments)."""
    args = [a for a in sys.argv[1:] if a != FLAG]
    write = len(args) != len(sys.argv) - 1
    script = Path(sys.argv[0]).resolve().relative_to(ROOT).as_posix()
    sys.argv = [sys.argv[0], *args]
    tee = _Tee(sys.stdout)
    sys.stdout = tee  # type: ignore[assignment]
    try:
        result = main()
    finally:
        sys.stdout = tee.out
    if write:
        command = " ".join(["python", script, *args])
        write_block(page, name or " ".join([script, *args]), console(command, tee.seen.getvalue()))
    return result
