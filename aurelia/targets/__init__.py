"""Target models: answer with r* injected, one sample or a batch.

``load_target("hf:/path/to/model")`` gives a local Hugging Face audio-visual model (loaded once
per process); any other model string, or a LangChain chat model instance, gives a chat target.
Importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

from aurelia.models.registry import backend_for
from aurelia.parsing import read_answer
from aurelia.prompts.format import injection_text, target_prompt
from aurelia.targets.base import Received, Target, TargetAnswer, TargetSample, TargetSettings
from aurelia.targets.chat import ChatTarget


def load_target(model: Any, settings: TargetSettings | None = None) -> Target:
    """A target for a model string (a back-end with its own media pipeline, ``hf:...``, gets its
    own target; any other a chat target) or a LangChain chat model / RoleModel instance."""
    if isinstance(model, str):
        if backend_for(model).media_target:
            from aurelia.targets.hf import HFTarget  # the one media back-end; torch only when used

            return HFTarget(model.strip(), settings)
        return ChatTarget.from_string(model, settings)
    return ChatTarget(model, settings)


__all__ = [
    "Received",
    "Target",
    "TargetAnswer",
    "TargetSample",
    "TargetSettings",
    "injection_text",
    "load_target",
    "read_answer",
    "target_prompt",
]
