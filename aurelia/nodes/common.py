"""What the nodes share: model lookup per role, call records, trace tags, the run's settings,
and :class:`GraphNode`: a node written once as steps, with a sync and an async implementation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from aurelia.boundary import ALLOWED_MODELS_ENV, MEDIA_ROOT_ENV, Policy
from aurelia.errors import InputError
from aurelia.graph.context import Context
from aurelia.graph.state import CallRecord
from aurelia.media.received import Received
from aurelia.models.messages import TunedModel, with_generation_settings
from aurelia.models.registry import RoleModel, as_role_model, resolve_model
from aurelia.models.retry import CallLimits
from aurelia.models.spec import parse_model_string
from aurelia.models.structured import CallResult, Steps, adrive, drive
from aurelia.prompts import get_prompt_set, prompt_set_fingerprint
from aurelia.tracing import agent_config, annotate_node_run, run_meta

ROLES = ("generator", "summarizer", "evaluator", "feedback", "target", "extractor")
IN_PROCESS = {"local", "gguf", "hf"}  # back-ends that compute in this process (llama.cpp, transformers): their calls block
# the policy an async node read off the event loop (a served one resolves paths), for Models.policy()
_NODE_POLICY: ContextVar[Policy | None] = ContextVar("aurelia_node_policy", default=None)


@lru_cache(maxsize=256)
def provider_of(raw: str) -> str:
    """The provider a model string names (parsed once: every async node call asks)."""
    return parse_model_string(raw).provider


class Models:
    """Resolves the model for a role: an instance given to ``build_graph`` wins over the
    context's model string (so apps and tests can pass LangChain chat model objects).
    ``served`` graphs (``langgraph.json``'s) apply the deployment's policy even without its
    variables (:class:`aurelia.boundary.Policy`)."""

    def __init__(self, overrides: Mapping[str, BaseChatModel | RoleModel] | None = None, *, served: bool = False) -> None:
        unknown = set(overrides or {}) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; use {ROLES}")
        self.overrides = {role: as_role_model(m, name=f"{role}-instance") for role, m in (overrides or {}).items()}
        self.served = served
        self._built: set[tuple[str, float]] = set()  # (model string, timeout) built in this process

    def policy(self) -> Policy:
        """Read per run, so a deployment's variables apply without rebuilding the graph (in an
        async node: as read off the event loop for it, see :meth:`ready`)."""
        return _NODE_POLICY.get() or Policy.from_env(self.served)

    def serving(self) -> bool:
        """Whether runs get a deployment's policy (:meth:`Policy.from_env`'s test, without its I/O)."""
        return self.served or bool(os.environ.get(ALLOWED_MODELS_ENV, "").strip() or os.environ.get(MEDIA_ROOT_ENV, "").strip())

    def ready(self, roles: tuple[str, ...], ctx: Context) -> Policy | None:
        """Before an async node runs on the event loop: what would block there, done now (in a
        thread): a served policy, which resolves paths, and the first build of a role's model in
        this process (its clients, their certificates). The policy (None: not served), for the node."""
        policy = Policy.from_env(self.served) if self.serving() else None
        token = _NODE_POLICY.set(policy)
        try:
            for role in roles:
                raw = "" if role in self.overrides else getattr(ctx, f"{role}_model")
                if raw and (raw, ctx.request_timeout) not in self._built:
                    self.get(role, ctx)
                    self._built.add((raw, ctx.request_timeout))
        finally:
            _NODE_POLICY.reset(token)
        return policy

    def needs_ready(self, roles: tuple[str, ...], ctx: Context) -> bool:
        """Whether :meth:`ready` has work to do (checked on the loop: no I/O)."""
        if self.serving():
            return True
        return any(
            role not in self.overrides
            and getattr(ctx, f"{role}_model")
            and (getattr(ctx, f"{role}_model"), ctx.request_timeout) not in self._built
            for role in roles
        )

    def has(self, role: str, ctx: Context) -> bool:
        return role in self.overrides or bool(getattr(ctx, f"{role}_model"))

    def in_process(self, role: str, ctx: Context) -> bool:
        """Whether the role's model string names a model run in this process (llama.cpp, hf):
        loading and generating block, so a node using it runs in a thread under ``ainvoke``, as
        under ``invoke``. An instance given to ``build_graph`` is called with ``ainvoke`` (LangChain
        runs a model without an async implementation of its own in its executor)."""
        if role in self.overrides:
            return False
        raw = getattr(ctx, f"{role}_model")
        return bool(raw) and provider_of(raw) in IN_PROCESS

    def get(self, role: str, ctx: Context, *, temperature: float = 0.0, max_tokens: int | None = None) -> TunedModel:
        """The role's model with this call's temperature and the run's seed (an instance keeps
        its own reply length; a model string gets the run's)."""
        limits = self.limits(ctx)
        if role in self.overrides:
            return replace(with_generation_settings(self.overrides[role], max_tokens, temperature, ctx.seed), limits=limits)
        raw = getattr(ctx, f"{role}_model")
        policy = self.policy()
        source = policy.model_source(raw, f"{role}_model")  # served gguf:/hf: paths, resolved under the models root
        rm = resolve_model(source, ctx.request_timeout, policy.may_send_keys(raw))
        if source != raw:  # results record the string the client gave, never the server's path
            rm = replace(rm, spec=replace(rm.spec, raw=raw))
        return replace(with_generation_settings(rm, max_tokens or ctx.max_tokens, temperature, ctx.seed), limits=limits)

    def label(self, role: str, ctx: Context) -> str:
        """The model of a role as results record it ('' when the role is off)."""
        if role in self.overrides:
            return self.overrides[role].spec.label
        raw = getattr(ctx, f"{role}_model")
        return parse_model_string(raw).label if raw else ""

    @staticmethod
    def limits(ctx: Context) -> CallLimits:
        """This run's retry limits and time budget, for every model call it makes."""
        return CallLimits(deadline=ctx.deadline(), budget_s=ctx.run_budget)


def sampling(rm: RoleModel) -> dict[str, Any]:
    """The temperature and seed a call was made with (None: the model has no such setting)."""
    return rm.sampling() if isinstance(rm, TunedModel) else {"temperature": None, "seed": None}


def call_record(
    role: str,
    iteration: int,
    model: str,
    seconds: float,
    usage: dict,
    received: Received,
    status: str,
    sampled: Mapping[str, Any],
    attempts: int = 1,
) -> CallRecord:
    """The record of one model call, the same for every role (the target included)."""
    return {
        "role": role,
        "iteration": iteration,
        "model": model,
        "seconds": round(seconds, 3),
        "usage": usage,
        "received": received.labels(),
        "status": status,
        "temperature": sampled.get("temperature"),
        "seed": sampled.get("seed"),
        "attempts": attempts,
    }


def agent_call_record(role: str, iteration: int, rm: RoleModel, result: CallResult, received: Received) -> CallRecord:
    return call_record(role, iteration, rm.spec.label, result.seconds, result.usage, received, result.status, sampling(rm), result.attempts)


def feedback_mode(ctx: Context, models: Models) -> str:
    """The feedback mode this run uses: the context's, else 'critic' when a critic model is
    given, else the prompt set's own. Settings that cannot work are an InputError."""
    pset = get_prompt_set(ctx.prompt_set)
    mode = ctx.feedback_mode or ("critic" if models.has("feedback", ctx) else pset.default_feedback)
    if mode == "critic" and not models.has("feedback", ctx):
        raise InputError("feedback_mode 'critic' needs the critic's model: set feedback_model (CLI: --feedback MODEL)")
    if mode == "rationale" and not pset.evaluator_rationale:
        raise InputError(f"feedback_mode 'rationale' needs an evaluator rationale, which the {pset.name!r} prompt set does not ask for")
    return mode


def run_settings(ctx: Context, models: Models) -> dict[str, Any]:
    """What shapes a measurement, recorded in every result: the prompts read (set and a
    fingerprint of their words), the loop's rules, the injection and the answer reading."""
    return {
        "prompt_set": ctx.prompt_set,
        "prompts": prompt_set_fingerprint(ctx.prompt_set),
        "feedback_mode": feedback_mode(ctx, models),
        "early_stop": ctx.early_stop,
        "threshold": ctx.threshold,
        "max_iterations": ctx.max_iterations,
        "temperature": ctx.temperature,
        "seed": ctx.seed,
        "inject": ctx.inject,
        "inject_position": ctx.inject_position,
        "answer_kind": ctx.answer_kind,
        "extractor": models.label("extractor", ctx),
    }


def traced(role: str, iteration: int, rm: RoleModel, state: Mapping[str, Any], ctx: Context, **extra: Any) -> RunnableConfig:
    """Tag the node's trace run (role, model, iteration, sample id, τ, T, settings) and return the config
    that names the agent call's run (``generator #2``)."""
    config = agent_config(role, iteration, rm.spec.label, {**run_meta(state, ctx, iteration), **extra})
    annotate_node_run(tags=config["tags"], metadata=config["metadata"])
    return config


NodeSteps = Callable[[Any, Runtime[Context]], Steps[dict]]


@dataclass(frozen=True)
class GraphNode:
    """A node with both implementations: ``func`` runs under ``invoke``/``stream``, ``afunc``
    under ``ainvoke``/``astream`` (LangGraph picks; the graph builder registers both)."""

    name: str
    func: Callable[..., dict]
    afunc: Callable[..., Any]


def graph_node(name: str, steps: NodeSteps, models: Models, roles: tuple[str, ...] = ()) -> GraphNode:
    """A node written once as steps (:mod:`aurelia.models.structured`): the sync implementation
    drives them with ``invoke``, the async one with ``ainvoke`` on the event loop, or (a role of
    ``roles`` run in this process) runs the sync one in a thread."""

    def node(state: Any, runtime: Runtime[Context]) -> dict:
        return drive(steps(state, runtime))

    async def anode(state: Any, runtime: Runtime[Context]) -> dict:
        ctx = runtime.context or Context()
        if any(models.in_process(role, ctx) for role in roles):
            return await asyncio.to_thread(node, state, runtime)
        policy = await asyncio.to_thread(models.ready, roles, ctx) if models.needs_ready(roles, ctx) else None
        token = _NODE_POLICY.set(policy)
        try:
            return await adrive(steps(state, runtime))
        finally:
            _NODE_POLICY.reset(token)

    node.__name__ = anode.__name__ = name
    return GraphNode(name, node, anode)


def blocking_node(name: str, func: Callable[..., dict], *, heavy: bool = True) -> GraphNode:
    """A node without model calls: under ``ainvoke`` in a thread when it blocks (``heavy``:
    probing files), else on the loop."""

    async def anode(state: Any, runtime: Runtime[Context]) -> dict:
        return await asyncio.to_thread(func, state, runtime) if heavy else func(state, runtime)

    anode.__name__ = name
    return GraphNode(name, func, anode)
