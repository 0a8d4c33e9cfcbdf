"""Build (once per process) the LangChain chat model for a model string."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from aurelia.errors import ModelConfigError
from aurelia.models.llamacpp import ChatLlamaCpp, embedded_gguf_path
from aurelia.models.spec import ModelSpec, check_api_key, parse_model_string


@dataclass(frozen=True)
class RoleModel:
    """A chat model together with what it accepts; what nodes use for one role."""

    model: BaseChatModel
    spec: ModelSpec

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


@lru_cache(maxsize=16)
def resolve_model(raw: str) -> RoleModel:
    spec = validate_model_string(raw)
    model = _build(spec)
    if spec.provider == "hf":  # what it takes comes from its processor (narrowed by a #suffix)
        spec = replace(spec, modalities=model.modalities)
    return RoleModel(model, spec)


def _build(spec: ModelSpec) -> BaseChatModel:
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
        if spec.provider == "openai_compatible":
            return init_chat_model(
                spec.name,
                model_provider="openai",
                base_url=spec.base_url,
                api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"),
            )
        return init_chat_model(spec.name, model_provider=spec.provider)
    except ImportError as exc:
        raise ModelConfigError(f"model {spec.label!r} needs an integration package that is not installed ({exc})") from exc
