"""Embedding Aurelia in larger apps: the reasoning loop as a node of a parent graph with its own
state, and the whole pipeline as a LangChain tool an agent can call.

Both build the graph once and reuse it. Inside a parent graph the subgraph is called with the
parent's config, so it nests under the parent's trace and, with a parent checkpointer, is
checkpointed in the parent's thread (its own namespace).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, Field

from aurelia.errors import AureliaError
from aurelia.graph.builder import build_graph, build_reasoning_graph
from aurelia.graph.context import Context, make_context
from aurelia.models.registry import RoleModel
from aurelia.prompts.format import format_reasoning, score_text

Models = Mapping[str, BaseChatModel | RoleModel]


def reasoning_node(
    *,
    models: Models | None = None,
    context: Context | Mapping[str, Any] | None = None,
    video_key: str = "video",
    question_key: str = "question",
    audio_key: str | None = None,
    choices_key: str | None = None,
    output_key: str = "reasoning",
) -> Callable[[Mapping[str, Any], RunnableConfig], dict[str, Any]]:
    """A node for a parent graph whose state names things its own way.

    It reads the video path and question (and optionally audio and choices) from the parent's
    state keys, runs the reasoning loop as a subgraph, and writes one key, ``output_key``:
    ``{"reasoning_star", "steps_text", "best_iteration", "best_score", "iterations", "stop_reason"}``
    (a score is None for an unscored iteration, i.e. one whose evaluation failed).
    """
    subgraph = build_reasoning_graph(models=models, name="aurelia-reasoning")
    ctx = make_context(context)

    def aurelia_reasoning(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        inputs = {
            "video": state[video_key],
            "question": state[question_key],
            "audio": state.get(audio_key) if audio_key else None,
            "choices": state.get(choices_key) if choices_key else None,
        }
        out = subgraph.invoke(inputs, config=config, context=replace(ctx))  # a fresh copy: the time budget is per run
        best = out["iterations"][out["best_iteration"] - 1]
        return {
            output_key: {
                "reasoning_star": out["reasoning_star"],
                "steps_text": format_reasoning(out["reasoning_star"], "steps_answers"),
                "best_iteration": out["best_iteration"],
                "best_score": best["score"],
                "iterations": [{"iteration": it["iteration"], "score": it["score"]} for it in out["iterations"]],
                "stop_reason": out["stop_reason"],
            }
        }

    return aurelia_reasoning


class WatchVideoArgs(BaseModel):
    """What an agent passes to the tool."""

    video: str = Field(description="Path of the video file (its audio track is used).")
    question: str = Field(description="The question about what is seen and heard in the video.")
    choices: list[str] | None = Field(default=None, description="Answer choices, if the question is multiple choice.")
    audio: str | None = Field(default=None, description="Path of a separate audio file, for a silent video.")


def aurelia_tool(
    *,
    models: Models | None = None,
    context: Context | Mapping[str, Any] | None = None,
    name: str = "watch_video",
    description: str = (
        "Watch and listen to a local video file and answer a question about it. Returns JSON with the answer, "
        "the grounded step-by-step reasoning that was used, and its evaluator score (1-10, or 'unscored')."
    ),
) -> StructuredTool:
    """The whole pipeline (reasoning loop, then the target model) as a LangChain tool.

    Bad input (missing file, no video stream, bad choices) comes back to the agent as a tool
    error message rather than an exception, so the agent can correct itself.
    """
    graph = build_graph(models=models, name="aurelia-tool")
    ctx = make_context(context)

    def watch_video(video: str, question: str, choices: list[str] | None = None, audio: str | None = None) -> str:
        try:
            out = graph.invoke({"video": video, "question": question, "choices": choices, "audio": audio}, context=replace(ctx))
        except AureliaError as exc:
            raise ToolException(f"error: {exc}") from exc
        best = out["iterations"][out["best_iteration"] - 1]
        payload = {
            "answer": out.get("answer"),
            "choice": out.get("answer_choice"),
            "reasoning": format_reasoning(out["reasoning_star"], "steps_answers"),
            "score": best["score"] if best["score"] is not None else score_text(None),
            "iterations": len(out["iterations"]),
        }
        return json.dumps(payload)

    return StructuredTool.from_function(
        func=watch_video, name=name, description=description, args_schema=WatchVideoArgs, handle_tool_error=True
    )
