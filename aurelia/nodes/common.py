"""What the nodes share: model lookup per role, formatting of choices and reasoning, records."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from aurelia.graph.context import Context
from aurelia.media.blocks import media_blocks
from aurelia.models.registry import RoleModel, as_role_model, resolve_model
from aurelia.models.structured import CallResult
from aurelia.parsing import choice_letters
from aurelia.prompts import Prompt
from aurelia.tracing import agent_config, annotate_node_run, run_meta

ROLES = ("generator", "summarizer", "evaluator", "feedback", "target")


class Models:
    """Resolves the model for a role: an instance given to ``build_graph`` wins over the
    context's model string (so apps and tests can pass LangChain chat model objects)."""

    def __init__(self, overrides: Mapping[str, BaseChatModel | RoleModel] | None = None) -> None:
        unknown = set(overrides or {}) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; use {ROLES}")
        self.overrides = {role: as_role_model(m, name=f"{role}-instance") for role, m in (overrides or {}).items()}

    def has(self, role: str, ctx: Context) -> bool:
        return role in self.overrides or bool(getattr(ctx, f"{role}_model"))

    def get(self, role: str, ctx: Context, *, temperature: float = 0.0, max_tokens: int | None = None) -> RoleModel:
        if role in self.overrides:
            return self.overrides[role]
        rm = resolve_model(getattr(ctx, f"{role}_model"))
        return RoleModel(with_generation_settings(rm, max_tokens or ctx.max_tokens, temperature, ctx.seed), rm.spec)


# the field each integration uses for the reply length (llama.cpp/HF/OpenAI/Anthropic, Gemini, Ollama)
MAX_TOKEN_FIELDS = ("max_tokens", "max_output_tokens", "num_predict")


def with_generation_settings(rm: RoleModel, max_tokens: int, temperature: float, seed: int) -> BaseChatModel:
    """A copy of the (shared, cached) chat model with this run's reply length, temperature and
    seed, set on whichever fields its integration has. OpenAI reasoning models (o-series,
    gpt-5) only accept their default temperature, so theirs is left alone."""
    fields = type(rm.model).model_fields
    length_field = next((name for name in MAX_TOKEN_FIELDS if name in fields), None)
    update: dict[str, Any] = {length_field: max_tokens} if length_field else {}
    reasoning_model = rm.spec.provider in {"openai", "azure_openai"} and re.match(r"(o\d|gpt-5)", rm.spec.name.lower())
    if "temperature" in fields and not reasoning_model:
        update["temperature"] = temperature
    if "seed" in fields:
        update["seed"] = seed
    return rm.model.model_copy(update=update)


def format_choices(choices: list[str] | None) -> str:
    if not choices:
        return ""
    letters = choice_letters(len(choices))
    return "Choices:\n" + "\n".join(f"({letters[i]}) {c}" for i, c in enumerate(choices))


def format_reasoning(reasoning: dict[str, Any], mode: str = "full") -> str:
    """Render reasoning for a prompt: 'steps', 'steps_answers' or 'full' (with final answer)."""
    lines = []
    for i, step in enumerate(reasoning.get("steps", []), start=1):
        line = f"{i}. {step.get('step', '').strip()}"
        if mode in ("steps_answers", "full") and step.get("answer"):
            line += f"\n   Answer: {step['answer'].strip()}"
        lines.append(line)
    if mode == "full" and reasoning.get("final_answer"):
        lines.append(f"Final answer: {reasoning['final_answer'].strip()}")
    return "\n".join(lines)


def build_messages(prompt: Prompt, rm: RoleModel | None = None, media: dict | None = None, frame_side: int = 512) -> tuple[list, list[str]]:
    """System + user message; with ``media``, the user message carries the model's media blocks."""
    received = ["text"]
    messages: list = [SystemMessage(content=prompt.system)] if prompt.system else []
    if media is None or rm is None:
        messages.append(HumanMessage(content=prompt.user))
        return messages, received
    blocks, sent = media_blocks(media, rm.modalities, frame_side=frame_side, provider=rm.spec.provider)
    received += sent
    if all(b["type"] == "text" for b in blocks):
        messages.append(HumanMessage(content="\n\n".join([prompt.user, *(b["text"] for b in blocks)])))
    else:
        messages.append(HumanMessage(content=[{"type": "text", "text": prompt.user}, *blocks]))
    return messages, received


def call_record(role: str, iteration: int, rm: RoleModel, result: CallResult, received: list[str]) -> dict:
    return {
        "role": role,
        "iteration": iteration,
        "model": rm.spec.label,
        "seconds": round(result.seconds, 3),
        "usage": result.usage,
        "received": received,
        "status": result.status,
    }


def traced(role: str, iteration: int, rm: RoleModel, state: Mapping[str, Any], ctx: Context, **extra: Any) -> RunnableConfig:
    """Tag the node's trace run (role, model, iteration, sample id, τ, T) and return the config
    that names the agent call's run (``generator #2``)."""
    config = agent_config(role, iteration, rm.spec.label, {**run_meta(state, ctx, iteration), **extra})
    annotate_node_run(tags=config["tags"], metadata=config["metadata"])
    return config
