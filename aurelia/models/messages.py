"""The messages a role model is sent: the prompt's text plus the media blocks it can take,
with the reply length, temperature and seed of this run set on the model's own fields."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from aurelia.media.blocks import media_blocks
from aurelia.media.received import Received
from aurelia.media.ref import MediaRef
from aurelia.models.registry import RoleModel
from aurelia.prompts import Prompt

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


def build_messages(
    prompt: Prompt, rm: RoleModel | None = None, media: MediaRef | None = None, frame_side: int = 512
) -> tuple[list[BaseMessage], Received]:
    """System + user message; with ``media``, the user message carries the model's media blocks."""
    messages: list[BaseMessage] = [SystemMessage(content=prompt.system)] if prompt.system else []
    if media is None or rm is None:
        messages.append(HumanMessage(content=prompt.user))
        return messages, Received()
    blocks, received = media_blocks(media, rm.modalities, frame_side=frame_side, provider=rm.spec.provider)
    if all(b["type"] == "text" for b in blocks):
        messages.append(HumanMessage(content="\n\n".join([prompt.user, *(b["text"] for b in blocks)])))
    else:
        messages.append(HumanMessage(content=[{"type": "text", "text": prompt.user}, *blocks]))
    return messages, received
