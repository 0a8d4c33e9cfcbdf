"""Build (once per process) the LangChain chat model for a model string.

Hosted clients are built with the run's per-request timeout and without retries of their own
(:mod:`aurelia.models.retry` is the one retry policy). The server's ``OPENAI_API_KEY`` goes to an
OpenAI-compatible URL only when ``send_keys`` allows it (see :meth:`aurelia.boundary.Policy.may_send_keys`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from aurelia.boundary import Policy
from aurelia.errors import ModelConfigError
from aurelia.models.llamacpp import ChatLlamaCpp, embedded_gguf_path
from aurelia.models.retry import DEFAULT_TIMEOUT_S, CallLimits, request_kwargs
from aurelia.models.spec import ModelSpec, check_api_key, parse_model_string


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


def as_role_model(model: BaseChatModel | RoleModel, name: str = "custom", modalities: frozenset[str] = frozenset({"text"})) -> RoleModel:
    """Wrap a chat model instance supplied by an app or a test (text-only unless told)."""
    if isinstance(model, RoleModel):
        return model
    return RoleModel(model, ModelSpec(name, "instance", type(model).__name__, frozenset(modalities) | {"text"}))


def validate_model_string(raw: str) -> ModelSpec:
    """Parse and check keys/paths without loading anything (for early, one-line errors)."""
    spec = parse_model_string(raw)
    check_api_key(spec)
    if spec.provider == "gguf" and not Path(spec.name).expanduser().is_file():
        raise ModelConfigError("GGUF file not found", path=spec.name)
    if spec.provider == "hf":
        from aurelia.models.hf.load import resolve_source

        resolve_source(spec.name)  # a missing local directory fails here, before any model runs
    return spec


def resolve_model(raw: str, timeout: float = DEFAULT_TIMEOUT_S, send_keys: bool | None = None) -> RoleModel:
    """The model for ``raw`` with this per-request ``timeout``; ``send_keys`` None asks the
    process's policy (served when the deployment's variables are set) whether the server's
    keys may go to it."""
    if send_keys is None:
        send_keys = Policy.from_env().may_send_keys(raw)
    return _resolve(raw, float(timeout), bool(send_keys))


@lru_cache(maxsize=32)
def _resolve(raw: str, timeout: float, send_keys: bool) -> RoleModel:
    spec = validate_model_string(raw)
    model = _build(spec, timeout, send_keys)
    if spec.provider == "hf":  # what it takes comes from its processor (narrowed by a #suffix)
        spec = replace(spec, modalities=model.modalities)
    return RoleModel(model, spec)


def _build(spec: ModelSpec, timeout: float, send_keys: bool) -> BaseChatModel:
    if spec.provider == "local":
        return ChatLlamaCpp(model_path=str(embedded_gguf_path()))
    if spec.provider == "gguf":
        return ChatLlamaCpp(model_path=str(Path(spec.name).expanduser()))
    if spec.provider == "hf":
        from aurelia.models.hf.chat import load_hf_chat

        return load_hf_chat(spec.raw, spec.name)
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ModelConfigError("the 'langchain' package is needed for hosted chat models") from exc
    try:
        client = request_kwargs(spec.provider, timeout)
        if spec.provider == "openai_compatible":
            key = os.environ.get("OPENAI_API_KEY") if send_keys else None
            return init_chat_model(spec.name, model_provider="openai", base_url=spec.base_url, api_key=key or "EMPTY", **client)
        return init_chat_model(spec.name, model_provider=spec.provider, **client)
    except ImportError as exc:
        raise ModelConfigError(f"model {spec.label!r} needs an integration package that is not installed ({exc})") from exc
