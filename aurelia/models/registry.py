"""Build (once per process) the LangChain chat model for a model string.

Hosted clients are built with the run's per-request timeout and without retries of their own
(:mod:`aurelia.models.retry` is the one retry policy). The server's ``OPENAI_API_KEY`` goes to an
OpenAI-compatible URL only when ``send_keys`` allows it (see :meth:`aurelia.boundary.Policy.may_send_keys`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from aurelia.boundary import Policy
from aurelia.errors import ModelConfigError
from aurelia.models import openai_body, openai_direct
from aurelia.models.llamacpp import ChatLlamaCpp, embedded_gguf_path
from aurelia.models.retry import DEADLINE_PROVIDERS, DEFAULT_TIMEOUT_S, CallLimits, request_kwargs
from aurelia.models.spec import CHAT_PROVIDERS, ModelSpec, check_api_key, parse_model_string


@dataclass(frozen=True)
class RoleModel:
    """A chat model together with what it accepts and how long and often it may be tried;
    what nodes use for one role."""

    model: BaseChatModel
    spec: ModelSpec
    limits: CallLimits = field(default_factory=CallLimits)

    @property
    def modalities(self) -> frozenset[str]:
        return self.spec.modalities


class PerModel:
    """Values made once per live chat model object and key (a tuned copy, a structured runnable):
    every agent and target call asks for them. Each entry holds its model, so the model's id is
    not reused while the entry lives; the table is emptied when it reaches ``limit``."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self._table: dict[tuple[int, Any], tuple[Any, Any]] = {}

    def get(self, model: Any, key: Any, make: Callable[[], Any]) -> Any:
        hit = self._table.get((id(model), key))
        if hit is not None and hit[0] is model:
            return hit[1]
        value = make()
        if len(self._table) >= self.limit:
            self._table.clear()
        self._table[id(model), key] = (model, value)
        return value


def as_role_model(model: BaseChatModel | RoleModel, name: str = "custom", modalities: frozenset[str] = frozenset({"text"})) -> RoleModel:
    """Wrap a chat model instance supplied by an app or a test (text-only unless told)."""
    if isinstance(model, RoleModel):
        return model
    return RoleModel(model, ModelSpec(name, "instance", type(model).__name__, frozenset(modalities) | {"text"}))


@dataclass(frozen=True)
class Backend:
    """How one kind of model string is checked and turned into a chat model. ``build`` makes the
    model (spec, per-request timeout, whether the server's keys may go to it); ``check`` runs
    before any work (a missing file or key fails here, in one line); ``own_modalities``: what it
    accepts comes from the loaded model (its processor), not the string; ``media_target``: as a
    target it runs its own media pipeline (:func:`aurelia.targets.load_target`), not a chat call."""

    build: Callable[[ModelSpec, float, bool], BaseChatModel]
    check: Callable[[ModelSpec], None] = check_api_key
    own_modalities: bool = False
    media_target: bool = False


def _check_gguf(spec: ModelSpec) -> None:
    if not Path(spec.name).expanduser().is_file():
        raise ModelConfigError("GGUF file not found", path=spec.name)


def _check_hf(spec: ModelSpec) -> None:
    from aurelia.models.hf.load import resolve_source

    resolve_source(spec.name)  # a missing local directory fails here, before any model runs


def _build_local(spec: ModelSpec, timeout: float, send_keys: bool) -> BaseChatModel:
    return ChatLlamaCpp(model_path=str(embedded_gguf_path()))


def _build_gguf(spec: ModelSpec, timeout: float, send_keys: bool) -> BaseChatModel:
    return ChatLlamaCpp(model_path=str(Path(spec.name).expanduser()))


def _build_hf(spec: ModelSpec, timeout: float, send_keys: bool) -> BaseChatModel:
    from aurelia.models.hf.chat import load_hf_chat

    return load_hf_chat(spec.raw, spec.name)


def _build_openai_compatible(spec: ModelSpec, timeout: float, send_keys: bool) -> BaseChatModel:
    key = os.environ.get("OPENAI_API_KEY") if send_keys else None
    kwargs = {"base_url": spec.base_url, "api_key": key or "EMPTY"}
    return _init_chat_model(spec, "openai", {**request_kwargs(spec.provider, timeout), **kwargs})


def _build_langchain(spec: ModelSpec, timeout: float, send_keys: bool) -> BaseChatModel:
    return _init_chat_model(spec, spec.provider, request_kwargs(spec.provider, timeout))


def _init_chat_model(spec: ModelSpec, provider: str, kwargs: dict[str, Any]) -> BaseChatModel:
    """LangChain's ``init_chat_model``; a missing integration package is a ModelConfigError."""
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ModelConfigError("the 'langchain' package is needed for hosted chat models") from exc
    if provider in DEADLINE_PROVIDERS:  # the OpenAI SDK's clients
        openai_body.install()
        openai_direct.install()
    try:
        return init_chat_model(spec.name, model_provider=provider, **kwargs)
    except ImportError as exc:
        raise ModelConfigError(f"model {spec.label!r} needs an integration package that is not installed ({exc})") from exc


# The one table of back-ends, by ModelSpec.provider (what parse_model_string read from the string's
# prefix): adding a back-end is one entry here (and its prefix in aurelia.models.spec).
BACKENDS: dict[str, Backend] = {
    "local": Backend(_build_local),
    "gguf": Backend(_build_gguf, check=_check_gguf),
    "hf": Backend(_build_hf, check=_check_hf, own_modalities=True, media_target=True),
    "openai_compatible": Backend(_build_openai_compatible),
    **{provider: Backend(_build_langchain) for provider in CHAT_PROVIDERS},
}


def backend_for(model: str | ModelSpec) -> Backend:
    """The back-end of a model string (parsed, not loaded) or spec."""
    spec = parse_model_string(model) if isinstance(model, str) else model
    return BACKENDS[spec.provider]


def validate_model_string(raw: str) -> ModelSpec:
    """Parse and check keys/paths without loading anything (for early, one-line errors)."""
    spec = parse_model_string(raw)
    backend_for(spec).check(spec)
    return spec


def resolve_model(raw: str, timeout: float = DEFAULT_TIMEOUT_S, send_keys: bool | None = None) -> RoleModel:
    """The model for ``raw`` with this per-request ``timeout``; ``send_keys`` None asks the
    process's policy (served when the deployment's variables are set) whether the server's
    keys may go to it."""
    if send_keys is None:
        send_keys = Policy.from_env().may_send_keys(raw)
    key = (raw, float(timeout), bool(send_keys))
    with _BUILDS_LOCK:
        building = _BUILDS.setdefault(key, threading.Lock())
    with building:  # single-flight: the samples a run starts at once wait for one build, not one each
        return _resolve(*key)


_BUILDS: dict[tuple[str, float, bool], threading.Lock] = {}
_BUILDS_LOCK = threading.Lock()


@lru_cache(maxsize=32)
def _resolve(raw: str, timeout: float, send_keys: bool) -> RoleModel:
    spec = validate_model_string(raw)
    backend = backend_for(spec)
    model = backend.build(spec, timeout, send_keys)
    if backend.own_modalities:  # narrowed by a #suffix when the string has one
        spec = replace(spec, modalities=model.modalities)  # type: ignore[attr-defined]
    return RoleModel(model, spec)
