"""``hf:<hub id or local path>`` as a text chat model (transformers, loaded once per process).

Needs the optional ``hf`` extra (torch, transformers). The hub is only contacted when the
string is not a local directory; offline, a hub id that is not cached gives a clear error.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict

from aurelia.errors import ModelConfigError
from aurelia.models.llamacpp import _ROLES, message_text

_LOCK = threading.Lock()


def _require_transformers():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelConfigError("hf: models need the optional extra: pip install 'aurelia[hf]'") from exc


@lru_cache(maxsize=4)
def load_causal_lm(name: str):
    """(tokenizer, model) for a local path or hub id; fp32 on CPU, bf16 on GPU."""
    _require_transformers()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(name).expanduser()
    if name.startswith((".", "/", "~")) and not local.exists():
        raise ModelConfigError("Hugging Face model path not found", path=name)
    source = str(local) if local.exists() else name
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, device_map="auto" if torch.cuda.is_available() else None)
    except OSError as exc:
        raise ModelConfigError(f"could not load Hugging Face model ({str(exc).splitlines()[0]})", path=name) from exc
    model.eval()
    return tokenizer, model


class ChatHFLocal(BaseChatModel):
    """Greedy chat generation with a local transformers causal LM."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_name: str
    max_tokens: int = 384

    @property
    def _llm_type(self) -> str:
        return "hf-local"

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any
    ) -> ChatResult:
        import torch

        tokenizer, model = load_causal_lm(self.model_name)
        chat = [{"role": _ROLES.get(m.type, "user"), "content": message_text(m)} for m in messages]
        if getattr(tokenizer, "chat_template", None):
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        else:
            ids = tokenizer("\n".join(f"{c['role']}: {c['content']}" for c in chat) + "\nassistant:", return_tensors="pt")
        ids = {k: v.to(model.device) for k, v in ids.items()}
        with _LOCK, torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=kwargs.get("max_tokens", self.max_tokens), do_sample=False)
        new = out[0, ids["input_ids"].shape[1] :]
        text = tokenizer.decode(new, skip_special_tokens=True)
        n_in, n_out = int(ids["input_ids"].shape[1]), int(new.shape[0])
        msg = AIMessage(content=text, usage_metadata={"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out})
        return ChatResult(generations=[ChatGeneration(message=msg)])


def load_hf_chat(name: str) -> ChatHFLocal:
    _require_transformers()
    return ChatHFLocal(model_name=name)
