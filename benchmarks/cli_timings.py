"""Timings of single CLI commands, each a real ``aurelia`` process in a
temporary folder, so the figures of docs/performance.md and docs/bench.md are measured, not typed.
The process is the ``aurelia`` script beside this interpreter (it imports ``aurelia`` through
``PYTHONPATH`` like any import).

    python benchmarks/cli_timings.py [--only demo|bench]

``demo``: ``aurelia demo`` (T = 3) end to end on the embedded model, with the time of each node
as the command's progress lines report it (needs the embedded model: minutes on a busy CPU).

``bench``: the sample benchmark's commands: ``bench sample``, ``bench validate --probe``,
``bench score`` of the gold answers, of the closed-task lines alone and of "A" as every
prediction, then ``bench run`` of the whole sample benchmark with every model an OpenAI-compatible
server on 127.0.0.1 that answers at once (``aurelia.testing.faults.FaultServer``), and
``bench report`` of that run. Wall times are of the whole process, Python start and imports
included.

With ``--write-docs`` each part rewrites its figures block (``--only demo`` in performance.md,
``--only bench`` in bench.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from aurelia.testing.faults import FaultServer

REASONING = json.dumps({"steps": [{"step": "Watch and listen to the whole clip", "answer": "A"}], "final_answer": "A"})
REPLIES = {"gen": REASONING, "sum": "A clip with a tone.", "eval": '{"score": 8, "rationale": "ok"}', "tgt": "A"}
# the venv's console script; else the same entry point through this interpreter
SCRIPT = Path(sys.executable).with_name("aurelia")
AURELIA = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-c", "from aurelia.cli import main; main()"]
DONE = re.compile(r"(?:#\d+ )?(\w+)(?: \([^)]*\))? done in ([\d.]+)s\s*$")


def aurelia(*args: str, cwd: Path, check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds and the finished ``aurelia ARGS`` process (stdout, stderr as text)."""
    start = time.perf_counter()
    done = subprocess.run([*AURELIA, *args], cwd=cwd, capture_output=True, text=True, env=os.environ)
    took = time.perf_counter() - start
    if check and done.returncode != 0:
        raise SystemExit(f"aurelia {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return took, done


def write_predictions(manifest: Path, path: Path, output: str | None, closed_only: bool = False) -> Path:
    """A predictions file: the gold answer of each line (``output`` None) or ``output`` for all."""
    lines = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    rows = [{"id": s["id"], "output": s["answer"] if output is None else output} for s in lines if not (closed_only and "choices" not in s)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def closed_manifest(manifest: Path) -> Path:
    """The manifest's lines with choices (closed tasks), beside it (media paths stay valid)."""
    lines = [line for line in manifest.read_text().splitlines() if line.strip() and "choices" in json.loads(line)]
    path = manifest.with_name("closed.jsonl")
    path.write_text("\n".join(lines) + "\n")
    return path


def metrics_line(tasks: dict[str, dict]) -> str:
    """``task metric=value ...`` per task, unparsed counts included."""
    out = []
    for name, values in sorted(tasks.items()):
        shown = [f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items() if k not in ("n", "unparsed")]
        out.append(f"  {name} (n={values['n']}, unparsed {values['unparsed']}): {', '.join(shown)}")
    return "\n".join(out)


def bench_part(work: Path) -> None:
    took, done = aurelia("bench", "sample", "sb", cwd=work)
    folder = work / "sb"
    manifest = folder / "manifest.jsonl"
    media = [p for p in folder.rglob("*") if p.is_file() and p != manifest]
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"bench sample: {took:.1f} s wall; {done.stdout.strip().split(': ', 1)[1]}, {len(media)} media files, {size / 1e6:.1f} MB")

    took, _ = aurelia("bench", "validate", str(manifest), "--probe", cwd=work)
    print(f"bench validate --probe: {took:.1f} s")

    gold = write_predictions(manifest, work / "gold.jsonl", None)
    took, done = aurelia("bench", "score", str(manifest), str(gold), "--json", cwd=work)
    print(f"bench score, the gold answers as predictions: {took:.1f} s\n{metrics_line(json.loads(done.stdout)['tasks'])}")

    closed = closed_manifest(manifest)
    took_closed, _ = aurelia(
        "bench", "score", str(closed), str(write_predictions(manifest, work / "gold_closed.jsonl", None, True)), cwd=work
    )
    lines = sum(1 for line in closed.read_text().splitlines() if line.strip())
    print(f"bench score of the closed-task lines alone ({lines} samples, no open-answer metrics): {took_closed:.1f} s")

    a = write_predictions(manifest, work / "a.jsonl", "A")
    took, done = aurelia("bench", "score", str(manifest), str(a), "--json", cwd=work)
    print(f'bench score, "A" as every prediction: {took:.1f} s\n{metrics_line(json.loads(done.stdout)["tasks"])}')

    with FaultServer(replies=REPLIES) as server:
        roles = ["--generator", server.url("gen"), "--summarizer", server.url("sum"), "--evaluator", server.url("eval")]
        args = ["bench", "run", str(manifest), "--target", server.url("tgt"), "--out", "run", "--cache", "cache.sqlite", *roles]
        took, done = aurelia(*args, "--jsonl", cwd=work)
        counts = json.loads(done.stdout.strip().splitlines()[-1])["counts"]
        calls = {m: server.count(m) for m in REPLIES}
    agents = calls["gen"] + calls["sum"] + calls["eval"]
    print(
        f"bench run of the sample benchmark, every model a loopback server answering at once: {took:.1f} s; "
        f"{counts['samples_done']} samples, {agents} agent and {calls['tgt']} target requests"
    )
    took, _ = aurelia("bench", "report", "run", cwd=work)
    print(f"bench report of that run: {took:.1f} s")


def demo_part(work: Path) -> None:
    took, done = aurelia("demo", cwd=work)
    per_node: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if found := DONE.search(line):
            per_node[found.group(1)] += float(found.group(2))
    stop = next((line.split("stop: ", 1)[1] for line in done.stderr.splitlines() if "stop: " in line), "?")
    nodes = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in per_node.items())
    print(f"aurelia demo (T = 3): {took:.1f} s wall, Python start included; stop: {stop}")
    print(f"  node times from its progress lines: {nodes}")


PARTS = {"demo": (demo_part, "docs/performance.md"), "bench": (bench_part, "docs/bench.md")}


def main() -> None:
    """One part (``sys.argv`` holds ``--only NAME``), in a temporary folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=list(PARTS), required=True)
    name = parser.parse_args().only
    with tempfile.TemporaryDirectory(prefix=f"aurelia-cli-{name}-") as tmp:
        PARTS[name][0](Path(tmp))


if __name__ == "__main__":
    from _docs import FLAG, run  # benchmarks/ is sys.path[0] when run as a script

    given = sys.argv[1:]
    only = given[given.index("--only") + 1] if "--only" in given[:-1] else None
    for name, (_, page) in PARTS.items():
        if only in (None, name):  # each part writes its own block, named by its own command
            sys.argv = [sys.argv[0], "--only", name, *([FLAG] if FLAG in given else [])]
            run(main, page)
