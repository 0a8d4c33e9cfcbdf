"""Docs that cannot drift: every console and Python block of README.md and docs/*.md runs here,
or its page says why it cannot.

Which blocks: ```python, ```console, ```bash/```sh/```shell, and an untagged block whose first
line is a ``$ `` prompt. Each one is, by the comment on the line right before it (grammar in
docs/development.md, "Docs that cannot drift"):

- ``<!-- not run: REASON -->``: not run here (a key, a GPU, a minute of the embedded model...).
  A Python block is still compiled and its imports executed, so a renamed module still fails.
- ``<!-- run: SETUP -->`` or no comment: run. A Python block runs as a script in the folder
  below and must exit 0; a ```text block right after it is what it must print. A console block's ``$ `` commands run in bash in
  a folder holding sample.mp4, clip.mp4 (the bundled clip), notes.txt and noise.mp4 (not media),
  r.json (an r* of two steps),
  and what each prints (stdout and stderr) must match the lines the page shows under it, with
  clock times, durations, ports, digests and byte counts masked; a ``...`` line stands for any
  lines. A bash block without prompts runs as a script and must exit 0. SETUP adds to the
  folder: ``rotated`` (rotated.mp4, a synthetic clip with a 90 degree display rotation),
  ``hang`` (an OpenAI-compatible server on 127.0.0.1 that never answers, standing in for the
  page's ``127.0.0.1:8000``), ``tiny-omni`` (./tiny-omni, a random-weight Qwen2.5-Omni
  thinker; pytest marker ``hf``), ``llm`` (no files: the block runs the embedded model; pytest
  marker ``llm``).
- inside ``<!-- figures: benchmarks/SCRIPT.py ARGS -->`` ... ``<!-- /figures -->``: written by
  that script (``--write-docs``); checked here only to name a script that exists.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from media_clips import needs_rotation_write

import aurelia
from aurelia.testing.clips import make_clip
from aurelia.testing.faults import FaultServer

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CHECKED = {"python", "console", "bash", "sh", "shell"}
MARKER = re.compile(r"^<!--\s*(not run|run|figures)\s*:\s*(.*?)\s*-->$")
FIGURES_END = "<!-- /figures -->"
SETUPS = {"rotated", "hang", "tiny-omni", "llm"}
# r* the pages' `--reasoning-file r.json` reads
R_STAR = {
    "steps": [
        {"step": "Find when the audio becomes silent", "answer": "from 6 s to the end"},
        {"step": "Look at the screen colour in that part", "answer": "green"},
    ],
    "final_answer": "green",
}
COMMAND_TIMEOUT_S = 300  # a hung command fails its block, it never hangs the suite


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: tuple[str, str] | None  # ("not run" | "run", argument), from the line before the fence
    figures: str | None  # the script line of the figures block it sits in
    shown: str | None = None  # a ```text block right after it: what it prints

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def checked(self) -> bool:
        first = self.text.lstrip("\n").split("\n", 1)[0]
        return self.lang in CHECKED or (self.lang == "" and first.startswith("$ "))


def blocks_of(page: Path) -> Iterator[Block]:
    lines = page.read_text(encoding="utf-8").split("\n")
    figures: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        mark = MARKER.match(line.strip())
        if mark and mark.group(1) == "figures":
            figures = mark.group(2)
        elif line.strip() == FIGURES_END:
            figures = None
        elif line.startswith("```"):
            lang = line[3:].strip()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            found = MARKER.match(before)
            marker = (found.group(1), found.group(2)) if found and found.group(1) != "figures" else None
            after = next((j for j in range(end + 1, len(lines)) if lines[j].strip()), len(lines))
            shown = None
            if after < len(lines) and lines[after].strip() == "```text":
                close = next((j for j in range(after + 1, len(lines)) if lines[j].startswith("```")), len(lines))
                shown = "\n".join(lines[after + 1 : close])
            yield Block(page, i + 1, lang, "\n".join(lines[i + 1 : end]), marker, figures, shown)
            i = end
        i += 1


BLOCKS = [b for page in PAGES for b in blocks_of(page) if b.checked]


def setups_of(block: Block) -> set[str]:
    if not block.marker or block.marker[0] != "run":
        return set()
    return {s.strip() for s in block.marker[1].split(",") if s.strip()}


def param(block: Block) -> object:
    """The block as a test case, with the markers that let ``-m "not llm"``/``"not hf"`` skip it."""
    marks = [pytest.mark.llm] if "llm" in setups_of(block) else []
    marks += [pytest.mark.hf] if "tiny-omni" in setups_of(block) else []
    marks += [needs_rotation_write] if "rotated" in setups_of(block) else []
    return pytest.param(block, marks=marks, id=block.where)


# ---------------------------------------------------------------- comparing output
TIMED_LINE = re.compile(r"\bdone in \d|^time: |\bin \d+(\.\d+)?s\b")  # a line that reports how long something took
DURATION = re.compile(r"\b\d+(\.\d+)?s\b")
MASKS = [
    (re.compile(r"\b\d{1,2}:\d\d:\d\d\b"), "HH:MM:SS"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "SHA256"),
    (re.compile(r"\b\d[\d,]* bytes\b"), "N bytes"),
]


def masked(text: str) -> str:
    """Clock times, ports, digests and byte counts masked; durations too, on a line that reports
    a timing (a digest's "6.0s" is content, not timing)."""
    for pattern, repl in MASKS:
        text = pattern.sub(repl, text)
    lines = [DURATION.sub("Ns", line) if TIMED_LINE.search(line) else line for line in text.strip("\n").split("\n")]
    return "\n".join(line.rstrip() for line in lines)


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is what the page shows: line for line, a ``...`` line any lines."""
    pattern = "".join(r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line) + r"\n" for line in masked(expected).split("\n"))
    return re.fullmatch(pattern, masked(actual) + "\n") is not None


def commands(text: str) -> list[tuple[str, str]]:
    """The ``$`` commands of a console block, each with the lines the page shows after it."""
    out: list[tuple[str, list[str]]] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            cmd = [line[2:]]
            while cmd[-1].endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd.append(lines[i])
            out.append(("\n".join(cmd), []))
        elif out:
            out[-1][1].append(line)
        i += 1
    return [(cmd, "\n".join(shown)) for cmd, shown in out]


# ---------------------------------------------------------------- where blocks run
@contextmanager
def workdir(tmp: Path, setups: set[str]) -> Iterator[dict[str, str]]:
    """The folder a block runs in; yields text replacements for its commands."""
    for name in ("sample.mp4", "clip.mp4"):
        shutil.copy(aurelia.sample_clip(), tmp / name)
    (tmp / "notes.txt").write_text("not media\n")
    (tmp / "r.json").write_text(json.dumps(R_STAR))
    (tmp / "noise.mp4").write_bytes(bytes(range(256)) * 11 + bytes(184))  # 3000 bytes, not media
    replace: dict[str, str] = {}
    with ExitStack() as stack:
        if "rotated" in setups:
            from conftest import SEGMENTS

            make_clip(tmp / "rotated.mp4", SEGMENTS, rotation=90)
        if "tiny-omni" in setups:
            build = "from aurelia.testing.tiny import build_tiny_omni; build_tiny_omni('tiny-omni')"
            subprocess.run(
                [sys.executable, "-c", build], cwd=tmp, env=child_env(), check=True, capture_output=True, timeout=COMMAND_TIMEOUT_S
            )
        if "hang" in setups:
            server = stack.enter_context(FaultServer({"m": ["hang"]}))
            replace["127.0.0.1:8000"] = f"127.0.0.1:{server.port}"
        yield replace


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("AURELIA_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(COLUMNS="100", NO_COLOR="1", TERM="dumb", LANGSMITH_TRACING="false")
    return env


def run_block(block: Block, tmp: Path) -> None:
    setups = setups_of(block)
    assert setups <= SETUPS, f"{block.where}: unknown run setup {sorted(setups - SETUPS)} (known: {sorted(SETUPS)})"
    with workdir(tmp, setups) as replace:
        if block.lang == "python":
            steps = [(f"python - <<'PYTHON'\n{block.text}\nPYTHON", "..." if block.shown is None else block.shown)]
            scripted = True
        else:
            steps = commands(block.text)
            scripted = not steps  # a script without prompts: it must succeed, whatever it prints
            steps = steps or [(block.text, "...")]
        for cmd, shown in steps:
            for old, new in replace.items():
                cmd = cmd.replace(old, new)
            done = subprocess.run(
                ["bash", "-c", cmd],
                cwd=tmp,
                env=child_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # in the order a terminal shows them
                text=True,
                timeout=COMMAND_TIMEOUT_S,
            )
            printed = done.stdout
            if scripted:
                assert done.returncode == 0, f"{block.where}: exit {done.returncode}\n{printed}"
            assert matches(shown, printed), f"{block.where}: `{cmd}` printed\n{printed}\nthe page shows\n{shown}"


def check_imports(block: Block) -> None:
    """A block that is not run: it must compile and its imports must work."""
    tree = ast.parse(block.text, filename=block.where)
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    exec(compile(ast.Module(body=imports, type_ignores=[]), block.where, "exec"), {})


# ---------------------------------------------------------------- the tests
@pytest.mark.parametrize("block", [param(b) for b in BLOCKS])
def test_block_runs_or_says_why_not(block: Block, tmp_path: Path) -> None:
    if block.figures is not None:
        script = ROOT / block.figures.split()[0]
        assert script.is_file(), f"{block.where}: the figures block names {block.figures!r}, not a script of this tree"
        assert "_docs import" in script.read_text(), f"{block.where}: {script.name} cannot write its figures (--write-docs)"
        return
    if block.marker and block.marker[0] == "not run":
        assert block.marker[1], f"{block.where}: `not run` must say why"
        if block.lang == "python":
            check_imports(block)
        return
    run_block(block, tmp_path)


def test_every_figures_block_is_closed_and_names_a_script() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        opened = re.findall(r"^<!-- figures: (.+?) -->$", text, re.M)
        assert len(opened) == len(re.findall(f"^{FIGURES_END}$", text, re.M)), f"{page.name}: a figures block is not closed"
        for name in opened:
            assert (ROOT / name.split()[0]).is_file(), f"{page.name}: figures by {name!r}, not a script of this tree"


def test_layers_in_development_md_are_the_import_linter_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layered = [c for c in config if c["type"] == "layers"]
    assert layered, "pyproject.toml has no layers contract"
    shown = next(b.text for b in blocks_of(ROOT / "docs" / "development.md") if b.text.startswith("aurelia.cli"))
    rows = [re.sub(r"\s{2,}\(.*\)$", "", row).strip() for row in shown.split("\n") if row.strip()]
    assert rows == [layer.strip() for layer in layered[0]["layers"]], (
        "docs/development.md's layer list differs from pyproject.toml's import-linter layers"
    )


def test_the_output_comparison_can_fail() -> None:
    assert matches("18:02:37 done in 0.1s\n...\nanswer: (A) red", "09:01:02 done in 12.5s\nx\ny\nanswer: (A) red")
    assert not matches("answer: (A) red", "answer: (B) blue")
    assert not matches("Scene changes (2): 3.0s, 6.0s.", "Scene changes (2): 3.0s, 6.04s.")
    assert not matches("a\n...\nc", "a\nb")
    assert commands("$ a \\\n  b\nout\n$ c") == [("a \\\n  b", "out"), ("c", "")]


def test_a_benchmark_rewrites_only_its_figures_block(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_docs", ROOT / "benchmarks" / "_docs.py")
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    page = tmp_path / "page.md"
    page.write_text(
        "intro\n<!-- figures: benchmarks/a.py -->\nold a\n<!-- /figures -->\n<!-- figures: benchmarks/b.py -->\nold b\n<!-- /figures -->\n"
    )
    docs.write_block(page, "benchmarks/a.py", docs.console("python benchmarks/a.py", "1.5x\n"))
    text = page.read_text()
    assert "```console\n$ python benchmarks/a.py\n1.5x\n```\n<!-- /figures -->" in text
    assert "old a" not in text and "old b" in text
    with pytest.raises(SystemExit, match="no block"):
        docs.write_block(page, "benchmarks/c.py", "x")
