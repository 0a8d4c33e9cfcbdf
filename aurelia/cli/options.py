"""Command-line options generated from the run settings (:class:`~aurelia.graph.context.Context`):
one declaration per setting (its field, type and description), one spelling and one help text in
every command that takes it. Values are checked by :func:`~aurelia.graph.context.make_context`,
so a bad one is the same line as from Python.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import MISSING, fields
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import typer

from aurelia.graph.context import SETTINGS, Context

# flags spelled otherwise before they were generated: kept first, the field's own name second
SPELLINGS: dict[str, tuple[str, ...]] = {
    "generator_model": ("--generator",),
    "summarizer_model": ("--summarizer",),
    "evaluator_model": ("--evaluator",),
    "feedback_model": ("--feedback",),
    "target_model": ("--target",),
    "extractor_model": ("--extractor",),
    "num_frames": ("--frames",),
    "request_timeout": ("--timeout",),
    "run_budget": ("--budget",),
}
# the settings shaping the reasoning (every command that runs the loop takes them)
AGENT_SETTINGS: tuple[str, ...] = tuple(
    n for n in SETTINGS if n not in ("target_model", "target_max_tokens", "target_temperature", "inject", "inject_position")
    and n not in ("answer_kind", "extractor_model", "review")
)  # fmt: skip
TARGET_SETTINGS: tuple[str, ...] = ("target_model", "target_max_tokens", "target_temperature")
# a benchmark names its targets and inject modes itself (--target, --inject: several of each)
BENCH_SETTINGS: tuple[str, ...] = (*AGENT_SETTINGS, "inject_position", "target_max_tokens", "target_temperature")


def flag_names(name: str) -> tuple[str, ...]:
    """The option's spellings: a boolean is an on/off pair, others ``--name`` (and an older spelling)."""
    own = "--" + name.replace("_", "-")
    if _value_type(name) is bool:
        return (f"{own}/--no-{name.replace('_', '-')}",)
    return (*SPELLINGS.get(name, ()), own) if name in SPELLINGS else (own,)


def _value_type(name: str) -> type:
    """The command-line type of a setting: its base type; a choice (Literal) is text, checked by make_context."""
    hint = get_type_hints(Context, include_extras=True)[name]
    hint = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    if get_origin(hint) in (Union, UnionType):  # an optional setting: its one other type
        hint = next(a for a in get_args(hint) if a is not type(None))
    return str if get_origin(hint) is Literal else hint


def _help(name: str) -> str:
    field = next(f for f in fields(Context) if f.name == name)
    default = field.default if field.default is not MISSING else None
    shown = "none" if default in ("", None) else default
    return f"{field.metadata.get('description', '')} (default: {shown})"


def setting_parameter(name: str) -> inspect.Parameter:
    """The typer parameter of one setting; None (its default) means not given."""
    option = typer.Option(*flag_names(name), help=_help(name), show_default=False)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[_value_type(name) | None, option])


def with_settings(names: Iterable[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command an option per setting in ``names``; the command receives the ones given
    as ``settings`` (a dict of setting name -> value, to pass to make_context)."""
    names = tuple(names)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "settings"]
        params = own + [setting_parameter(n) for n in names]

        def wrapper(**kwargs: Any) -> Any:
            settings = {n: kwargs.pop(n) for n in names if kwargs.get(n) is not None}
            for n in names:
                kwargs.pop(n, None)
            return command(**kwargs, settings=settings)

        wrapper.__name__, wrapper.__qualname__, wrapper.__doc__ = command.__name__, command.__qualname__, command.__doc__
        wrapper.__module__ = command.__module__
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__aurelia_settings__ = tuple(names)  # type: ignore[attr-defined]  # read by help.FlagCommand
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate
