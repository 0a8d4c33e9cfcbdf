"""Aurelia: test-time reasoning distillation for audio-visual LLMs, as a LangGraph graph."""

from aurelia.errors import AureliaError, InputError, MediaError, MissingAPIKeyError, ModelConfigError
from aurelia.graph.builder import build_graph, build_reasoning_graph
from aurelia.graph.context import Context
from aurelia.run import run, sample_clip

__all__ = [
    "AureliaError",
    "Context",
    "InputError",
    "MediaError",
    "MissingAPIKeyError",
    "ModelConfigError",
    "build_graph",
    "build_reasoning_graph",
    "run",
    "sample_clip",
]
