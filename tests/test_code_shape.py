"""The shape of the code: no function in ``aurelia/`` longer than 60 lines, except where a
comment on its ``def`` line (``# long: <why>``) says why."""

from __future__ import annotations

import ast
from pathlib import Path

import aurelia

MAX_LINES = 60
ROOT = Path(aurelia.__file__).parent


def long_functions(root: Path = ROOT, limit: int = MAX_LINES) -> list[str]:
    """``path:name (N lines)`` for each function over ``limit`` lines whose ``def`` line does not
    say why (``# long:``)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > limit and "# long:" not in lines[node.lineno - 1]:
                    found.append(f"{path.relative_to(root).as_posix()}:{node.name} ({length} lines)")
    return found


def test_no_function_is_over_60_lines():
    assert long_functions() == []


def test_the_check_finds_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text(f"def short():\n    pass\n\n\ndef long():\n{body}\n\n\ndef why():  # long: a table\n{body}\n")
    assert long_functions(tmp_path) == [f"m.py:long ({MAX_LINES + 1} lines)"]
