"""Help output where a flag reads as a flag.

Typer's rich help lists every option with a value type, so ``--json`` (and ``--help`` itself)
showed as taking a ``<bool>``. Commands of an :class:`App` list flags without a type; the rest
of the help is typer's own.
"""

from __future__ import annotations

import difflib
from typing import Any

import typer
import typer.core
from typer.core import TyperCommand, TyperGroup


def _no_such_option() -> type[Exception]:
    """The exception an unknown flag raises: from the copy of click that typer carries (newer
    typer), else from click itself."""
    vendored = getattr(typer.core, "_click", None)
    if vendored is not None:
        return vendored.exceptions.NoSuchOption
    import click  # older typer: click is its dependency

    return click.NoSuchOption


NO_SUCH_OPTION = _no_such_option()


class _FlagsWithoutType:
    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # the type column stays empty: a flag takes no value
        return params


class FlagCommand(_FlagsWithoutType, TyperCommand):
    """A command whose help lists flags as flags. In a command that takes the run settings
    (:func:`aurelia.cli.options.with_settings`), an unknown flag that is nearest to a setting
    (``--threshhold``) is refused with the line Python gives: ``no setting 'threshhold' (did you
    mean 'threshold'?)``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except NO_SUCH_OPTION as exc:
            settings = getattr(self.callback, "__aurelia_settings__", None)
            if not settings or not exc.option_name.startswith("--"):
                raise
            flags = {flag: getattr(p, "name", None) for p in self.params for flag in getattr(p, "opts", [])}
            near = difflib.get_close_matches(exc.option_name, list(flags), n=1, cutoff=0.6)
            if near and flags[near[0]] not in settings:
                raise  # nearest to a flag of the command's own (--jsn: --json): click's message says so
            from aurelia.cli.errors import fail
            from aurelia.graph.context import unknown_setting

            fail(unknown_setting(exc.option_name.removeprefix("--").replace("-", "_")))


class FlagGroup(_FlagsWithoutType, TyperGroup):
    """A command group whose help lists flags as flags."""


class App(typer.Typer):
    """``typer.Typer`` whose groups and commands list flags as flags in their help."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", FlagGroup)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", FlagCommand)
        return super().command(*args, **kwargs)
