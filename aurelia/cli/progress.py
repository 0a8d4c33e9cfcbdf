"""Live progress on stderr while a command runs: what runs now, each iteration as soon as it is
scored, and the stop reason.

On a terminal a spinner shows the current node (or phase), its model and the elapsed time, and
every scored iteration stays printed above it. Elsewhere (a pipe, a log file) each finished node,
phase and iteration becomes one timestamped line, so logs stay readable. A node or phase that
fails prints no line: its error is the one line ``aurelia.cli.errors`` prints. Progress never
touches stdout, so ``--json`` output stays clean. Model text is printed literally, never as markup.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from aurelia.cli.errors import err_console
from aurelia.durable import DEFAULT_DB
from aurelia.run import OnEvent

EXCERPT = 80  # characters of a caption shown per iteration

QuietOpt = Annotated[bool, typer.Option("--quiet", help="Show no progress on stderr while it runs.")]


def excerpt(text: str, width: int = EXCERPT) -> str:
    """One line of at most ``width`` characters: whitespace collapsed, an ellipsis if cut."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def describe(event: dict[str, Any]) -> str | None:
    """The line an event stands for; None for events not shown."""
    kind = event.get("event")
    if kind in ("node", "done"):
        where = f"#{event['iteration']} " if event.get("iteration") else ""
        model = f" ({event['model']})" if event.get("model") else ""
        took = f" done in {event['seconds']:.1f}s" if kind == "done" else ""
        return f"{where}{event['node']}{model}{took}"
    if kind == "iteration":
        return f"#{event['iteration']} score {event['score']}/10 in {event['seconds']:.1f}s: {excerpt(event['caption'])}"
    if kind == "stop":
        if event["stop_reason"] == "baseline":
            return "stop: baseline (inject none: no reasoning loop)"
        return f"stop: {event['stop_reason']}, best iteration {event.get('best_iteration')}"
    return None


class Progress:
    """Shows a run's events (call it with each one) and phases (``with progress.phase(...)``)."""

    def __init__(self, console: Console | None = None, *, quiet: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet  # --quiet: shows nothing
        self.doing = ""
        self.since = time.monotonic()
        self.spinner = Spinner("dots")
        self.live: Live | None = None
        if not quiet and self.console.is_terminal and not self.console.is_dumb_terminal:
            # stdout is not redirected: it belongs to the result (--json)
            self.live = Live(self, console=self.console, transient=True, refresh_per_second=8, redirect_stdout=False)

    def __rich__(self) -> Spinner:
        """The live line, redrawn on every refresh: what runs now and for how long."""
        elapsed = f"{self.doing}  {time.monotonic() - self.since:.1f}s"
        self.spinner.update(text=Text(elapsed, style="cyan", no_wrap=True, overflow="ellipsis"))
        return self.spinner

    def open(self) -> None:
        if self.live is not None:
            self.live.start()

    def close(self) -> None:
        if self.live is not None and self.live.is_started:
            self.live.stop()

    def start(self, doing: str) -> None:
        """Something new runs: the spinner's text on a terminal (elsewhere its end is shown)."""
        self.doing, self.since = doing, time.monotonic()
        if self.live is not None and self.live.is_started:
            self.live.refresh()  # shown now, however short the step

    def note(self, line: str) -> None:
        """A line that stays: printed above the spinner on a terminal, timestamped elsewhere."""
        if self.live is None:
            self._plain(line)
        else:
            self.console.print(Text(line), soft_wrap=True)

    def _plain(self, line: str) -> None:
        if self.quiet:
            return
        self.console.file.write(f"{time.strftime('%H:%M:%S')} {line}\n")
        self.console.file.flush()

    def __call__(self, event: dict[str, Any]) -> None:
        """A run event: a node's start drives the spinner, its end is a line where there is no
        spinner (a node that fails prints nothing, so an error stays one line); scored
        iterations and the stop reason are lines everywhere."""
        line = describe(event)
        if line is None:
            return
        if event["event"] == "node":
            self.start(line)
        elif event["event"] == "done":
            if self.live is None:
                self._plain(line)
        else:
            self.note(line)

    @contextmanager
    def phase(self, name: str, detail: str = "") -> Iterator[None]:
        """One phase of a command (prepare, load, generate): the spinner while it runs, then a
        line with its duration (none if it fails)."""
        self.start(f"{name} {detail}".strip())
        yield
        self.note(f"{self.doing} done in {time.monotonic() - self.since:.1f}s")


def interrupted_line(thread: str | None = None, db: Path | None = None) -> str:
    """What Ctrl-C prints: for a durable run, how to continue it."""
    if thread is None:
        return "interrupted"
    where = f" --db {db}" if db is not None and Path(db) != DEFAULT_DB else ""
    return f"interrupted: thread {thread} keeps every finished node; continue with: aurelia resume {thread}{where}"


def _stop_now(progress: Progress, line: str) -> Callable[[int, Any], None]:
    """The Ctrl-C handler: one line and exit 130 at once. Unwinding could wait minutes for a
    model call on a worker thread; nothing is lost by not waiting, as a durable run has
    committed every finished node before the next one started."""

    def handler(signum: int, frame: Any) -> None:
        clear = "\r\x1b[2K\x1b[?25h" if progress.live is not None else ""  # the spinner's line; the cursor back
        with suppress(Exception):
            sys.stderr.flush()
        os.write(2, f"{clear}{line}\n".encode())
        os._exit(130)

    return handler


@contextmanager
def watching(quiet: bool, thread: str | None = None, db: Path | None = None) -> Iterator[Progress]:
    """Progress for one command; Ctrl-C stops it with one line on stderr and exit code 130."""
    progress = Progress(quiet=quiet)
    line = interrupted_line(thread, db)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _stop_now(progress, line)) if main else None
    try:
        progress.open()
        yield progress
    except KeyboardInterrupt:  # where no handler could be set (not the main thread)
        progress.close()
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None
    finally:
        progress.close()
        if main:
            signal.signal(signal.SIGINT, previous)


def observer(progress: Progress) -> OnEvent | None:
    """The ``on_event`` callback for the Python API (None when quiet: no stream events at all)."""
    return None if progress.quiet else progress
