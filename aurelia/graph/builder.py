"""Graph wiring only: START -> prepare -> generator -> summarizer -> evaluator ->
{feedback -> generator | review -> target -> END}; with inject 'none' (the zero-shot baseline)
prepare goes straight to the target. ``review`` pauses for a human only when the
context asks for it. The reasoning-only graph ends after the evaluator."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph._internal._runnable import RunnableCallable  # a node with a sync and an async implementation
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph_sdk.runtime import ServerRuntime

from aurelia.graph.context import Context, check_setting_names
from aurelia.graph.state import InputState, OutputState, State
from aurelia.models.registry import RoleModel
from aurelia.nodes.common import GraphNode, Models
from aurelia.nodes.evaluator import make_evaluator
from aurelia.nodes.feedback import make_feedback
from aurelia.nodes.generator import make_generator
from aurelia.nodes.prepare import make_prepare
from aurelia.nodes.review import make_review
from aurelia.nodes.summarizer import make_summarizer
from aurelia.nodes.target import make_target
from aurelia.tracing import scrubbing_tracer


def served_errors(node: GraphNode, models: Models) -> RunnableCallable:
    """``node`` (both implementations) whose errors, in a served run, name paths relative to the
    deployment's roots, never the server's absolute ones (:meth:`aurelia.boundary.Policy.scrub_error`).
    LangGraph reads the parameters through ``functools.wraps``, so ``runtime`` still comes; it runs
    ``func`` under ``invoke``/``stream`` and ``afunc`` under ``ainvoke``/``astream`` (a served graph)."""

    @functools.wraps(node.func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return node.func(*args, **kwargs)
        except GraphBubbleUp:  # an interrupt (review) is control flow, not an error
            raise
        except Exception as exc:
            scrub(exc)
            raise

    def scrub(exc: BaseException) -> None:
        models.policy().scrub_error(exc)

    @functools.wraps(node.afunc)
    async def awrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return await node.afunc(*args, **kwargs)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            await asyncio.to_thread(scrub, exc)  # a served policy resolves paths: off the loop
            raise

    # trace=False: the node's run is LangGraph's own, as for a plain function (no nested run)
    return RunnableCallable(wrapped, awrapped, name=node.name, trace=False)


def route_after_prepare(state: State) -> str:
    """The zero-shot baseline (inject 'none') needs no reasoning: straight to the target."""
    return "target" if state.get("stop_reason") == "baseline" else "generator"


def route_after_evaluator(state: State) -> str:
    """Loop to feedback until the evaluator node recorded a stop reason."""
    return "feedback" if state.get("stop_reason") is None else "done"


def build_graph(
    *,
    models: Mapping[str, BaseChatModel | RoleModel] | None = None,
    reasoning_only: bool = False,
    checkpointer: Any = None,
    name: str | None = None,
    cache: Any = None,
    store: Any = None,
    debug: bool = False,
    served: bool = False,
) -> CompiledStateGraph:
    """Compile the Aurelia graph.

    ``models`` maps roles (generator, summarizer, evaluator, feedback, target) to chat model
    instances that take precedence over the context's model strings. ``reasoning_only`` stops
    after the loop with ``reasoning_star`` (no target), as benchmarks do. ``checkpointer``
    (e.g. ``SqliteSaver``; ``True`` inside a parent graph to keep the subgraph's own history),
    ``cache``, ``store``, ``name`` and ``debug`` go to LangGraph's ``compile``. ``served``
    applies a deployment's policy (allowed models, media root: docs/security.md) even when
    its variables are not set; they apply to any graph when they are.
    """
    resolver = Models(models, served=served)
    builder = StateGraph(State, context_schema=Context, input_schema=InputState, output_schema=OutputState)

    def add_node(name: str, node: GraphNode) -> None:
        builder.add_node(name, served_errors(node, resolver))

    add_node("prepare", make_prepare(resolver, with_target=not reasoning_only))
    add_node("generator", make_generator(resolver))
    add_node("summarizer", make_summarizer(resolver))
    add_node("evaluator", make_evaluator(resolver))
    add_node("feedback", make_feedback(resolver))
    builder.add_edge(START, "prepare")
    builder.add_edge("generator", "summarizer")
    builder.add_edge("summarizer", "evaluator")
    builder.add_edge("feedback", "generator")
    if reasoning_only:
        builder.add_edge("prepare", "generator")
        builder.add_conditional_edges("evaluator", route_after_evaluator, {"feedback": "feedback", "done": END})
    else:
        add_node("review", make_review())
        add_node("target", make_target(resolver))
        builder.add_conditional_edges("prepare", route_after_prepare, {"generator": "generator", "target": "target"})
        builder.add_conditional_edges("evaluator", route_after_evaluator, {"feedback": "feedback", "done": "review"})
        builder.add_edge("review", "target")
        builder.add_edge("target", END)
    default_name = "aurelia-reasoning" if reasoning_only else "aurelia"
    compiled = builder.compile(checkpointer=checkpointer, cache=cache, store=store, debug=debug, name=name or default_name)
    tracer = scrubbing_tracer()  # None unless LangSmith tracing is on: then this graph's runs are scrubbed
    return compiled.with_config(callbacks=[tracer]) if tracer is not None else compiled


def build_reasoning_graph(**kwargs: Any) -> CompiledStateGraph:
    """The reasoning loop alone: r* without a target answer."""
    return build_graph(reasoning_only=True, **kwargs)


def check_served_context(runtime: Any) -> None:
    """A served run's context as the client sent it (the factory's ``runtime`` holds it for a run):
    a name that is not a setting is refused with the line every entry point gives. LangGraph's
    server would drop it silently before the graph sees it; the values' types are checked by the
    ``prepare`` node, as for every run."""
    context = getattr(runtime, "context", None)
    if isinstance(context, Mapping):
        check_setting_names(context)


def make_graph(config: RunnableConfig | None = None, runtime: ServerRuntime | None = None) -> CompiledStateGraph:
    """The full pipeline, as ``langgraph.json`` registers it for Studio: a graph factory, so
    nothing compiles at import (run-time settings come per run in the context, not ``config``).
    Served: clients choose only allowed models and media under the media root, and only settings
    that exist."""
    check_served_context(runtime)
    return build_graph(served=True)


def make_reasoning_graph(config: RunnableConfig | None = None, runtime: ServerRuntime | None = None) -> CompiledStateGraph:
    """The reasoning loop alone, as ``langgraph.json`` registers it for Studio (served)."""
    check_served_context(runtime)
    return build_reasoning_graph(served=True)
