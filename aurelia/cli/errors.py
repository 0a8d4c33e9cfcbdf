"""One way for every CLI command to report a problem: one line on stderr and an exit code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console

from aurelia.errors import AureliaError, MediaError, describe_failure

err_console = Console(stderr=True)


def fail(exc: AureliaError) -> NoReturn:
    """Print ``error: <file>: <reason>`` and exit (2 for bad input, 1 for a failed model call)."""
    err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=exc.exit_code)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Typed errors become one line; anything unexpected also prints one line and exits 1
    (``AURELIA_DEBUG=1`` re-raises it, for the traceback)."""
    try:
        yield
    except AureliaError as exc:
        fail(exc)
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get("AURELIA_DEBUG"):
            raise
        err_console.print(  # one line: the message's first, not wrapped at the console's width
            f"error: unexpected {describe_failure(exc)} (set AURELIA_DEBUG=1 for the traceback)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=1) from exc


@contextmanager
def output_errors(path: object) -> Iterator[None]:
    """An OS error while writing a command's output files becomes a typed error naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise MediaError(f"cannot write output ({exc.strerror or exc})", path=str(path)) from exc
