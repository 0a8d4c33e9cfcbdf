"""Aurelia: test-time reasoning distillation for audio-visual LLMs, as a LangGraph graph."""

from aurelia import run  # the module, callable as its function run (aurelia.run.RunEvents stays reachable)
from aurelia.errors import AureliaError, InputError, MediaError, MissingAPIKeyError, ModelConfigError
from aurelia.graph.builder import build_graph, build_reasoning_graph
from aurelia.graph.context import Context
from aurelia.run import sample_clip
from aurelia.targets.api import answer

__all__ = [
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
