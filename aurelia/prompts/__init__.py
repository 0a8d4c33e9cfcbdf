"""Prompt templates, one text file per agent, loaded by name.

A file has a ``[system]`` section and a ``[user]`` section; ``$name`` placeholders are
filled with :class:`string.Template`, so JSON braces need no escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


@cache
def load_prompt(name: str) -> tuple[Template, Template]:
    text = resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^\[(system|user)\]\n(.*?)(?=^\[(?:system|user)\]\n|\Z)", text, re.S | re.M))
    return Template(sections.get("system", "").strip()), Template(sections.get("user", "").strip())


def render(name: str, **values: object) -> Prompt:
    """Fill the template ``name``; a missing placeholder raises KeyError (a bug, not user input)."""
    system, user = load_prompt(name)
    vals = {k: "" if v is None else str(v) for k, v in values.items()}
    return Prompt(system.substitute(vals), user.substitute(vals))
