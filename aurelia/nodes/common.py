"""What the nodes share: model lookup per role, call records, trace tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from aurelia.boundary import Policy
from aurelia.graph.context import Context
from aurelia.graph.state import CallRecord
from aurelia.media.received import Received
from aurelia.models.messages import with_generation_settings
from aurelia.models.registry import RoleModel, as_role_model, resolve_model
from aurelia.models.retry import CallLimits
from aurelia.models.spec import parse_model_string
from aurelia.models.structured import CallResult
from aurelia.tracing import agent_config, annotate_node_run, run_meta

ROLES = ("generator", "summarizer", "evaluator", "feedback", "target")


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

    def policy(self) -> Policy:
        """Read per run, so a deployment's variables apply without rebuilding the graph."""
        return Policy.from_env(self.served)

    def has(self, role: str, ctx: Context) -> bool:
        return role in self.overrides or bool(getattr(ctx, f"{role}_model"))

    def label(self, role: str, ctx: Context) -> str | None:
        """The role's model as results record it (a URL without credentials), without loading
        it; None when the role has no model (feedback from the template)."""
        if role in self.overrides:
            return self.overrides[role].spec.label
        raw = getattr(ctx, f"{role}_model")
        return parse_model_string(raw).label if raw else None

    @staticmethod
    def limits(ctx: Context) -> CallLimits:
        """This run's retry limits and time budget, for every model call it makes."""
        return CallLimits(deadline=ctx.deadline(), budget_s=ctx.run_budget)

    def get(self, role: str, ctx: Context, *, temperature: float = 0.0, max_tokens: int | None = None) -> RoleModel:
        limits = self.limits(ctx)
        if role in self.overrides:
            return replace(self.overrides[role], limits=limits)
        raw = getattr(ctx, f"{role}_model")
        rm = resolve_model(raw, ctx.request_timeout, self.policy().may_send_keys(raw))
        return RoleModel(with_generation_settings(rm, max_tokens or ctx.max_tokens, temperature, ctx.seed), rm.spec, limits)


def call_record(
    role: str, iteration: int, model: str, seconds: float, usage: dict, received: Received, status: str, attempts: int = 1
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
        "attempts": attempts,
    }


def agent_call_record(role: str, iteration: int, rm: RoleModel, result: CallResult, received: Received) -> CallRecord:
    return call_record(role, iteration, rm.spec.label, result.seconds, result.usage, received, result.status, result.attempts)


def traced(role: str, iteration: int, rm: RoleModel, state: Mapping[str, Any], ctx: Context, **extra: Any) -> RunnableConfig:
    """Tag the node's trace run (role, model, iteration, sample id, τ, T) and return the config
    that names the agent call's run (``generator #2``)."""
    config = agent_config(role, iteration, rm.spec.label, {**run_meta(state, ctx, iteration), **extra})
    annotate_node_run(tags=config["tags"], metadata=config["metadata"])
    return config
