"""Help output where a flag reads as a flag.

Typer's rich help lists every option with a value type, so ``--json`` (and ``--help`` itself)
showed as taking a ``<bool>``. Commands of an :class:`App` list flags without a type; the rest
of the help is typer's own.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


class _FlagsWithoutType:
    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # the type column stays empty: a flag takes no value
        return params


class FlagCommand(_FlagsWithoutType, TyperCommand):
    """A command whose help lists flags as flags."""


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
