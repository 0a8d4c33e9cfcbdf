"""Prompt templates, one text file per agent and prompt set, loaded by name.

A file has a ``[system]`` section and a ``[user]`` section; ``$name`` placeholders are
filled with :class:`string.Template`, so JSON braces need no escaping.

Two prompt sets: ``aurelia`` (the files in this folder, the default) and ``paper`` (``paper/``:
the authors' prompts in substance, for reproducing their setting). A set that has no file
for an agent uses the default one (e.g. the target prompt and the repair prompt are shared).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


@dataclass(frozen=True)
class PromptSet:
    """What a prompt set changes besides wording, so the nodes need no per-set branches."""

    name: str
    folder: str | None  # None: the files of this folder
    evaluator_rationale: bool  # the evaluator prompt asks for a rationale besides the score
    feedback_replaces_prompt: bool  # on a retry the feedback is the generator's whole prompt
    default_feedback: str  # the feedback mode when none is chosen and no critic model is given


PROMPT_SETS: dict[str, PromptSet] = {
    "aurelia": PromptSet("aurelia", None, evaluator_rationale=True, feedback_replaces_prompt=False, default_feedback="rationale"),
    "paper": PromptSet("paper", "paper", evaluator_rationale=False, feedback_replaces_prompt=True, default_feedback="score_only"),
}
AGENT_PROMPTS = ("generator", "summarizer", "evaluator", "feedback", "critic", "reask", "extractor", "target", "cot", "repair")


def get_prompt_set(name: str) -> PromptSet:
    """The set called ``name``; KeyError names the known sets (validated earlier for user input)."""
    try:
        return PROMPT_SETS[name]
    except KeyError:
        raise KeyError(f"unknown prompt set {name!r}; known: {', '.join(PROMPT_SETS)}") from None


@cache
def template_text(name: str, set_name: str = "aurelia") -> str:
    """The file text of template ``name`` in the set (the default file when the set has none)."""
    folder = get_prompt_set(set_name).folder
    root = resources.files(__package__)
    if folder is not None and root.joinpath(folder, f"{name}.txt").is_file():
        return root.joinpath(folder, f"{name}.txt").read_text(encoding="utf-8")
    return root.joinpath(f"{name}.txt").read_text(encoding="utf-8")


@cache
def load_prompt(name: str, set_name: str = "aurelia") -> tuple[Template, Template]:
    text = template_text(name, set_name)
    sections = dict(re.findall(r"^\[(system|user)\]\n(.*?)(?=^\[(?:system|user)\]\n|\Z)", text, re.S | re.M))
    return Template(sections.get("system", "").strip()), Template(sections.get("user", "").strip())


def render(name: str, *, prompt_set: str = "aurelia", **values: object) -> Prompt:
    """Fill the template ``name`` of ``prompt_set``; values a template does not use are ignored,
    a missing placeholder raises KeyError (a bug, not user input)."""
    system, user = load_prompt(name, prompt_set)
    vals = {k: "" if v is None else str(v) for k, v in values.items()}
    return Prompt(system.substitute(vals), user.substitute(vals))


@cache
def prompt_set_fingerprint(set_name: str = "aurelia") -> str:
    """A short hash of every template the set uses: recorded with results, so that two runs
    are known to have read the same words (or not)."""
    digest = hashlib.sha256()
    for name in AGENT_PROMPTS:
        digest.update(f"{name}\n{template_text(name, set_name)}\n".encode())
    return digest.hexdigest()[:12]
