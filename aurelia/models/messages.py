"""The messages a role model is sent: the prompt's text plus the media blocks it can take,
with the reply length, temperature and seed of this run set on the model's own fields."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from aurelia.media.blocks import media_blocks
from aurelia.media.received import Received
from aurelia.media.ref import MediaRef
from aurelia.models.registry import PerModel, RoleModel
from aurelia.prompts import Prompt

# the field each integration uses for the reply length (llama.cpp/HF/OpenAI/Anthropic, Gemini, Ollama)
MAX_TOKEN_FIELDS = ("max_tokens", "max_output_tokens", "num_predict")
PROVIDER_FORBIDS = "provider forbids"


@dataclass(frozen=True)
class TunedModel(RoleModel):
    """A role model with this run's generation settings, and the sampling it really got:
    ``temperature`` is the value set, ``"provider forbids"`` where the provider only takes its
    default, or None where the model has no such setting (``seed`` likewise)."""

    temperature: float | str | None = None
    seed: int | None = None

    def sampling(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "seed": self.seed}


def with_generation_settings(rm: RoleModel, max_tokens: int | None, temperature: float, seed: int) -> TunedModel:
    """A copy of the (shared, cached) chat model with this run's reply length (None: as built),
    temperature and seed, set on whichever fields its integration has. OpenAI reasoning models
    (o-series, gpt-5) only accept their default temperature, so theirs is left alone."""
    fields = type(rm.model).model_fields
    length_field = next((name for name in MAX_TOKEN_FIELDS if name in fields), None)
    update: dict[str, Any] = {length_field: max_tokens} if length_field and max_tokens is not None else {}
    forbids = rm.spec.provider in {"openai", "azure_openai"} and re.match(r"(o\d|gpt-5)", rm.spec.name.lower())
    if "temperature" in fields and not forbids:
        update["temperature"] = temperature
    if "seed" in fields:
        update["seed"] = seed
    if not update:
        model = rm.model
    elif rm.spec.provider == "instance":  # an app's own model may change between calls: copied afresh
        model = rm.model.model_copy(update=update)
    else:  # a registry-built model's copy is made once (and the structured runnables built on it)
        model = _TUNED.get(rm.model, tuple(sorted(update.items())), lambda: rm.model.model_copy(update=update))
    used = PROVIDER_FORBIDS if forbids else (temperature if "temperature" in fields else None)
    return TunedModel(model, rm.spec, rm.limits, temperature=used, seed=seed if "seed" in fields else None)


_TUNED = PerModel()


def build_messages(
    prompt: Prompt, rm: RoleModel | None = None, media: MediaRef | None = None, frame_side: int = 512, *, media_first: bool = False
) -> tuple[list[BaseMessage], Received]:
    """System + user message; with ``media``, the user message carries the model's media blocks,
    after the prompt text (the agents, as the paper sends them) or before it (``media_first``:
    the targets, in the order a local Hugging Face target's chat template has them)."""
    messages: list[BaseMessage] = [SystemMessage(content=prompt.system)] if prompt.system else []
    if media is None or rm is None:
        messages.append(HumanMessage(content=prompt.user))
        return messages, Received()
    blocks, received = media_blocks(media, rm.modalities, frame_side=frame_side, provider=rm.spec.provider)
    text = {"type": "text", "text": prompt.user}
    ordered = [*blocks, text] if media_first else [text, *blocks]
    if all(b["type"] == "text" for b in blocks):
        messages.append(HumanMessage(content="\n\n".join(b["text"] for b in ordered)))
    else:
        messages.append(HumanMessage(content=ordered))
    return messages, received
