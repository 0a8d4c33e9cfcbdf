"""The embedded model (SmolLM2-135M GGUF via llama.cpp): structured output and loading."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from aurelia.errors import ModelConfigError
from aurelia.models.llamacpp import ChatLlamaCpp, embedded_gguf_path, load_llama
from aurelia.models.registry import resolve_model
from aurelia.schemas import Evaluation, Reasoning

pytestmark = pytest.mark.llm


def test_constrained_decoding_returns_the_schema():
    model = resolve_model("local").model
    ev = model.with_structured_output(Evaluation).invoke([HumanMessage("Rate 1-10 how well 'a red screen' matches a red video.")])
    assert isinstance(ev, Evaluation) and isinstance(ev.score, int)
    r = model.with_structured_output(Reasoning).invoke([HumanMessage("Reason step by step: what colour is a red screen?")])
    assert 1 <= len(r.steps) <= 6


def test_gguf_string_shares_the_loaded_model():
    path = embedded_gguf_path()
    a = resolve_model(f"gguf:{path}").model
    b = resolve_model("local").model
    assert a._client() is b._client()  # loaded once per process
    reply = a.invoke([HumanMessage("Say hello.")], max_tokens=8)
    assert reply.content and reply.usage_metadata["output_tokens"] > 0


def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelConfigError, match=r"llama\.cpp could not load"):
        load_llama(str(bad), 512)


def test_text_only_model_refuses_media_blocks():
    model = ChatLlamaCpp(model_path=str(embedded_gguf_path()))
    with pytest.raises(ModelConfigError, match="text-only"):
        model.invoke([HumanMessage(content=[{"type": "image", "base64": "AAAA", "mime_type": "image/jpeg"}])])


def test_prompt_longer_than_the_context_window_is_a_typed_error():
    from aurelia.errors import ModelCallError

    model = resolve_model("local").model
    with pytest.raises(ModelCallError, match="context window"):
        model.invoke([HumanMessage("what colour " * 2500)])
