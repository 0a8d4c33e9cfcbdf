"""The shape of a trajectory (r* and how it was made), checked wherever one comes from outside
this process before a run or a report relies on it: a ``--server`` reply before it is cached or
stored, a reasoning-cache entry and a stored sample before they are reused.

A reply of ``{}`` or a list, a ``calls`` field that is not a list of call records, a score out of
1–10 or a reasoning without steps is refused with the field and the reason; nothing malformed is
ever cached as r*. Fields beyond the ones checked are kept as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from aurelia.bench.records import shown
from aurelia.schemas import Step

# what a stored trajectory keeps of the graph's output state
TRAJECTORY_KEYS = ("iterations", "calls", "best_iteration", "reasoning_star", "stop_reason", "would_stop_at", "settings")
MAX_ITERATIONS = 50  # the Context's bound on T
MAX_CALLS = MAX_ITERATIONS * 16  # a few calls per role and iteration, re-asks and repairs included


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class _Reasoning(BaseModel):
    """Steps (at least one) and a final answer; an imported r* may have more steps than a generated one."""

    model_config = ConfigDict(extra="allow")
    steps: list[Step] = Field(min_length=1)
    final_answer: str = ""


class _Call(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    iteration: int = Field(ge=1, le=MAX_ITERATIONS)
    seconds: Annotated[float, AfterValidator(_finite), Field(ge=0)]
    usage: dict[str, int | dict[str, int]] | None = None


class _Iteration(BaseModel):
    model_config = ConfigDict(extra="allow")
    iteration: int = Field(ge=1, le=MAX_ITERATIONS)
    reasoning: _Reasoning
    score: int | None = Field(default=None, ge=1, le=10)


class _Trajectory(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reasoning_star: _Reasoning | None = None
    iterations: list[_Iteration] = Field(default_factory=list, max_length=MAX_ITERATIONS)
    calls: list[_Call] = Field(default_factory=list, max_length=MAX_CALLS)
    best_iteration: int | None = Field(default=None, ge=1, le=MAX_ITERATIONS)
    stop_reason: str | None = None
    would_stop_at: int | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


def trajectory_problem(value: Any, *, needs_star: bool = True) -> str | None:
    """Why ``value`` is not a usable trajectory (the first three fields at fault), or None.
    ``needs_star``: it must hold r* (what a run answers with); a report reads the iterations and
    calls of a stored trajectory also without it (early stop off: r* is a prefix's)."""
    if not isinstance(value, Mapping):
        kind = "a list" if isinstance(value, list) else type(value).__name__
        return f"expected the graph's output state (an object), got {kind}"
    if not value:
        return "an empty object: no r* in it"
    if needs_star and not value.get("reasoning_star"):
        return "reasoning_star: missing (the reply holds no r*)"
    try:
        _Trajectory.model_validate(dict(value), strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        parts = [f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg'][:1].lower()}{e['msg'][1:]}" for e in errors[:3]]
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        return shown("; ".join(parts), 300) + more
    return None


def trajectory_of(value: Mapping[str, Any]) -> dict[str, Any]:
    """The trajectory part of a (checked) output state: the keys a run stores, as they are."""
    return {k: value[k] for k in TRAJECTORY_KEYS if k in value}
