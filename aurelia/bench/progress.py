"""How a run reports progress: a rich bar on a terminal (stderr), a timestamped line per sample
elsewhere (stderr), JSON lines for programs and logs (stdout), or nothing.

The runner calls the reporter with one event dict per finished sample (``event: sample``: its
id and status, samples finished of total, the counts so far and the running accuracy per
target), plus ``start`` and ``end``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def summary_line(counts: dict[str, Any]) -> str:
    """samples done/skipped/failed, agent and target calls, tokens: one line for people."""
    tokens = counts.get("tokens", {}).get("total_tokens")
    return (
        f"samples: {counts['samples_done']} done, {counts['samples_skipped']} skipped (already done), {counts['samples_failed']} failed; "
        f"calls: {counts['agent_calls']} agent, {counts['target_calls']} target"
        + (f"; tokens: {tokens}" if tokens is not None else "")
        + f"; r*: {counts['reasoning_generated']} generated, {counts['reasoning_cached']} from the cache"
    )


def accuracy_text(accuracy: dict[str, dict[str, float]]) -> str:
    """'target zero-shot → with r*' per target (closed tasks so far)."""
    parts = []
    for target, sides in accuracy.items():
        zs, au = sides.get("zero_shot"), sides.get("aurelia")
        parts.append(f"{target} {'–' if zs is None else f'{zs:.2f}'}→{'–' if au is None else f'{au:.2f}'}")
    return "  ".join(parts)


class JsonlProgress:
    """One JSON object per event, flushed: for logs and other programs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: dict[str, Any]) -> None:
        self.stream.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.stream.flush()

    def __enter__(self) -> JsonlProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class QuietProgress(JsonlProgress):
    """Nothing while running."""

    def __call__(self, event: dict[str, Any]) -> None:
        pass


def sample_line(event: dict[str, Any]) -> str:
    """'12/64 s003 done · agent 36 · target 24 · t 0.50→0.62' for one finished sample."""
    c = event["counts"]
    acc = accuracy_text(event["accuracy"])
    line = f"{event['finished']}/{event['total']} {event['id']} {event['status']} · agent {c['agent_calls']} · target {c['target_calls']}"
    return f"{line} · {acc}" if acc else line


class LineProgress(JsonlProgress):
    """A timestamped line per finished sample, on stderr: for logs read by people."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream or sys.stderr)

    def __call__(self, event: dict[str, Any]) -> None:
        if event["event"] == "sample":
            self.stream.write(f"{time.strftime('%H:%M:%S')} {sample_line(event)}\n")
            self.stream.flush()


class RichProgress:
    """A rich progress bar with ETA, calls, tokens and the running accuracy per target."""

    def __init__(self, console: Console | None = None) -> None:
        console = console or Console(stderr=True)
        self.bar = Progress(
            TextColumn("[bold]bench"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}", markup=False),  # model and target names are printed literally
            console=console,
            transient=False,
        )
        self.task: Any = None

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, event: dict[str, Any]) -> None:
        if event["event"] == "start":
            self.task = self.bar.add_task("bench", total=event["total"], info="")
        elif event["event"] == "sample" and self.task is not None:
            c = event["counts"]
            tokens = c.get("tokens", {}).get("total_tokens")
            info = f"agent {c['agent_calls']} · target {c['target_calls']}" + (f" · tok {tokens}" if tokens else "")
            info += f" · failed {c['samples_failed']}" if c["samples_failed"] else ""
            acc = accuracy_text(event["accuracy"])
            self.bar.update(self.task, completed=event["finished"], info=f"{info}  {acc}" if acc else info)


def choose_progress(*, quiet: bool = False, jsonl: bool = False) -> JsonlProgress | RichProgress:
    """JSON lines when asked, nothing with ``quiet``, else a bar on a terminal and lines elsewhere."""
    if jsonl:
        return JsonlProgress()
    if quiet:
        return QuietProgress()
    console = Console(stderr=True)
    return RichProgress(console) if console.is_terminal and not console.is_dumb_terminal else LineProgress()
