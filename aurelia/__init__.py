"""Aurelia: test-time reasoning distillation for audio-visual LLMs, as a LangGraph graph."""

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from aurelia import run  # the module, callable as its function run (aurelia.run.RunEvents stays reachable)
from aurelia.errors import AureliaError, InputError, MediaError, MissingAPIKeyError, ModelConfigError
from aurelia.graph.builder import build_graph, build_reasoning_graph
from aurelia.graph.context import Context
from aurelia.run import sample_clip
from aurelia.targets.api import answer

DISTRIBUTION = "aurelia-av"  # the name on the package index; `aurelia` there is an unrelated project


def _version() -> str:
    """The installed distribution's version; in a source tree that is not installed, pyproject's."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


__version__ = _version()

__all__ = [
    "DISTRIBUTION",
    "AureliaError",
    "Context",
    "InputError",
    "MediaError",
    "MissingAPIKeyError",
    "ModelConfigError",
    "answer",
    "build_graph",
    "build_reasoning_graph",
    "run",
    "sample_clip",
]
