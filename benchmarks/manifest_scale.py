"""A very large manifest: validated in bounded time and memory, and run with memory held flat.

Writes a manifest of N lines (1,000,000 by default: every line names one of four synthetic clips,
so the media checks are cached and what is measured is the manifest itself), then, each in a
fresh child process:

1. validates it (``validate_manifest``, as ``aurelia bench validate`` does): wall seconds and
   the child's peak resident set size (VmHWM), beside that of the imports alone
   (goal: under 60 s and 500 MB for 1,000,000 lines);
2. runs ``run_benchmark`` over it (fake agents and a fake target that answer after ``--delay``
   seconds, ``--concurrency`` samples at once) for ``--seconds`` seconds after the run starts,
   sampling the child's RSS every second: memory must stay flat while samples finish (the
   runner streams the manifest and keeps a bounded number of samples in flight).

    python benchmarks/manifest_scale.py [--lines 1000000] [--seconds 20] [--concurrency 16] [--json]

``measure_manifest(lines)`` returns the figures as a dict, for ``benchmarks/bench_scale.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COLOURS = [(220, 30, 30), (30, 60, 220), (40, 200, 60), (230, 200, 40)]
CHOICES = ["red", "blue", "green", "yellow"]


def write_manifest(folder: Path, lines: int) -> Path:
    """``lines`` multiple-choice questions over 4 synthetic clips, paths relative to the manifest."""
    from aurelia.testing.clips import Segment, make_clip

    for i, colour in enumerate(COLOURS):
        make_clip(folder / f"clip{i}.mp4", [Segment(1, colour, 440.0), Segment(1, COLOURS[(i + 1) % 4], None)])
    path = folder / "manifest.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(lines):
            line = {"id": f"s{i:07d}", "task": "av_compositional", "category": [("early", "late")[i % 2]], "video": f"clip{i % 4}.mp4"}
            line |= {"question": f"Which colour comes last? (#{i})", "choices": CHOICES, "answer": "B"}
            f.write(json.dumps(line) + "\n")
    return path


def _status_mib(key: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc (Linux)."""
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _child_validate(path: str) -> dict[str, Any]:
    from aurelia.bench.manifest import validate_manifest

    imports = _status_mib("VmRSS")
    start = time.perf_counter()
    manifest = validate_manifest(path)
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(_status_mib("VmHWM")),
        "imports_rss_mib": round(imports),
        "lines": manifest.lines,
        "valid": manifest.valid,
        "problems": manifest.problem_count,
    }


class _Stop(Exception):
    """Raised by the progress callback once the measured time is over: the run stops there."""


def _child_run(path: str, seconds: float, concurrency: int, delay: float, out: str) -> dict[str, Any]:
    import threading

    from aurelia.bench import run_benchmark
    from aurelia.testing.chat import TimedFakeChat, agent_models

    rss: list[float] = []
    finished = [0]
    started = threading.Event()
    stop = threading.Event()

    def sample_rss() -> None:
        started.wait()
        while not stop.wait(1.0):
            rss.append(round(_status_mib("VmRSS"), 1))

    def progress(event: dict[str, Any]) -> None:
        if event["event"] == "start":
            rss.append(round(_status_mib("VmRSS"), 1))
            started.set()
            progress.deadline = time.monotonic() + seconds  # type: ignore[attr-defined]
        elif event["event"] == "sample":
            finished[0] = event["finished"]
            if time.monotonic() > progress.deadline:  # type: ignore[attr-defined]
                raise _Stop

    threading.Thread(target=sample_rss, daemon=True).start()
    begin = time.perf_counter()
    try:
        run_benchmark(
            path, {"t": TimedFakeChat(responses=["B"], delay=delay)}, out, models=agent_models(delay),
            cache=Path(out).with_suffix(".cache.sqlite"), concurrency=concurrency, progress=progress,
        )  # fmt: skip
    except _Stop:
        pass
    stop.set()
    steady = rss[len(rss) // 4 :] or rss  # after the first quarter: the clips are measured, the pools warm
    return {
        "seconds": round(time.perf_counter() - begin, 1),
        "samples_done": finished[0],
        "rss_mib": rss,
        "peak_rss_mib": round(_status_mib("VmHWM")),
        "steady_growth_mib": round(steady[-1] - steady[0], 1) if steady else None,
    }


def _in_child(args: list[str], timeout: float) -> dict[str, Any]:
    """Run this file's ``--child`` mode in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_manifest(lines: int, seconds: float = 20.0, concurrency: int = 16, delay: float = 0.01) -> dict[str, Any]:
    """Write an N-line manifest; validate it and run over it, each in a child process (see the
    module docstring). Returns ``{"lines", "write_seconds", "validate": {...}, "run": {...}}``."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = write_manifest(Path(tmp), lines)
        written = time.perf_counter() - start
        size = path.stat().st_size / 2**20
        validate = _in_child(["validate", str(path)], timeout=600)
        run = _in_child(["run", str(path), str(seconds), str(concurrency), str(delay), str(Path(tmp) / "run")], timeout=600 + seconds)
    return {"lines": lines, "manifest_mib": round(size), "write_seconds": round(written, 1), "validate": validate, "run": run}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        kind, *rest = sys.argv[2:]
        if kind == "validate":
            result = _child_validate(rest[0])
        else:
            result = _child_run(rest[0], float(rest[1]), int(rest[2]), float(rest[3]), rest[4])
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the run is measured after it starts")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay", type=float, default=0.01, help="seconds each fake model call takes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    opts = parser.parse_args()
    figures = measure_manifest(opts.lines, opts.seconds, opts.concurrency, opts.delay)
    if opts.json:
        print(json.dumps(figures, indent=2))
        return
    v, r = figures["validate"], figures["run"]
    print(f"manifest: {figures['lines']:,} lines, {figures['manifest_mib']} MiB (written in {figures['write_seconds']} s)")
    print(
        f"validate: {v['seconds']} s, peak RSS {v['peak_rss_mib']} MiB ({v['imports_rss_mib']} MiB of it the imports); goal < 60 s, < 500 MiB"
    )
    rss = r["rss_mib"]
    print(
        f"run: {r['samples_done']} samples in {opts.seconds:g} s after the start (concurrency {opts.concurrency}); "
        f"RSS {rss[0] if rss else '?'} MiB at the start, {rss[-1] if rss else '?'} MiB at the end, "
        f"{r['steady_growth_mib']} MiB growth after the first quarter; peak {r['peak_rss_mib']} MiB"
    )


if __name__ == "__main__":
    main()
