"""Model strings: parsing, modalities, keys and clear errors (nothing is loaded here)."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurelia.errors import MissingAPIKeyError, ModelConfigError
from aurelia.models.registry import validate_model_string
from aurelia.models.spec import parse_model_string


def test_known_forms():
    assert parse_model_string("local").provider == "local"
    g = parse_model_string("google_genai:gemini-2.5-pro")
    assert g.provider == "google_genai" and {"video", "audio"} <= g.modalities
    o = parse_model_string("openai:gpt-4o")
    assert o.modalities == {"text", "image"}
    assert parse_model_string("openai:gpt-4o-audio-preview").modalities == {"text", "audio"}
    assert parse_model_string("anthropic:claude-sonnet-4-5").modalities == {"text", "image"}
    assert parse_model_string("ollama:llama3.2").modalities == {"text"}
    hf = parse_model_string("hf:Qwen/Qwen2.5-Omni-3B")
    assert (hf.provider, hf.name) == ("hf", "Qwen/Qwen2.5-Omni-3B")
    url = parse_model_string("http://localhost:8000/v1?model=Qwen/Qwen2.5-Omni-7B#video+audio")
    assert url.provider == "openai_compatible" and url.base_url == "http://localhost:8000/v1"
    assert url.name == "Qwen/Qwen2.5-Omni-7B" and url.modalities == {"text", "video", "audio"}


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("", "empty model string"),
        ("gpt4", "unknown model string"),
        ("nosuch:model", "unknown model provider 'nosuch'"),
        ("openai:", "names no model"),
        ("http://localhost:8000/v1", "needs ?model="),
        ("openai:gpt-4o#smell", "unknown modality"),
    ],
)
def test_bad_model_strings(raw, needle):
    with pytest.raises(ModelConfigError, match=re.escape(needle)):
        parse_model_string(raw)


def test_missing_api_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        validate_model_string("openai:gpt-4o")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="GOOGLE_API_KEY or GEMINI_API_KEY"):
        validate_model_string("google_genai:gemini-2.5-flash")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert validate_model_string("openai:gpt-4o").name == "gpt-4o"


def test_missing_gguf_file(tmp_path):
    with pytest.raises(ModelConfigError, match="GGUF file not found"):
        validate_model_string(f"gguf:{tmp_path / 'nope.gguf'}")


@pytest.mark.parametrize(
    ("raw", "length_field"),
    [
        ("openai:gpt-4o", "max_tokens"),
        ("anthropic:claude-sonnet-4-5", "max_tokens"),
        ("google_genai:gemini-2.5-flash", "max_output_tokens"),
    ],
)
def test_hosted_models_get_the_run_settings(monkeypatch, raw, length_field):
    from aurelia import Context
    from aurelia.nodes.common import Models

    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.setenv(key, "test-key")  # nothing is called: only the model objects are built
    ctx = Context(generator_model=raw, max_tokens=50, seed=3)
    model = Models().get("generator", ctx, temperature=0.0).model
    assert getattr(model, length_field) == 50 and model.temperature == 0.0
    warmer = Models().get("generator", ctx, temperature=0.7).model
    assert warmer.temperature == 0.7 and model.temperature == 0.0  # copies: the cached instance is shared


def test_openai_reasoning_models_keep_their_temperature(monkeypatch):
    from aurelia import Context
    from aurelia.nodes.common import Models

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    model = Models().get("generator", Context(generator_model="openai:o4-mini", max_tokens=64), temperature=0.0).model
    assert model.max_tokens == 64 and model.temperature is None


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("http://[::1/v1?model=m", "is malformed"),
        ("http://[::g]/v1?model=m", "is malformed"),
        ("http://999.999.999.999/v1?model=m", "invalid IPv4 address"),
        ("http://1.2.3/v1?model=m", "invalid IPv4 address"),
        ("http://host:99999/v1?model=m", "invalid port"),
        ("http://host:port/v1?model=m", "invalid port"),
        ("http://host:0/v1?model=m", "invalid port"),
        ("http://host:80:81/v1?model=m", "invalid port"),
        ("http://a..b/v1?model=m", "invalid host name"),
        ("http:///v1?model=m", "names no host"),
        ("http://user@/v1?model=m", "names no host"),
        ("http://ho st/v1?model=m", "space or control"),
        ("http://host/v1\x7f?model=m", "space or control"),
        (f"http://{'a' * 70}.example/v1?model=m", "invalid host name"),
    ],
)
def test_malformed_model_urls_are_typed_errors(raw, needle):
    with pytest.raises(ModelConfigError, match=re.escape(needle)):
        parse_model_string(raw)


def test_a_malformed_url_never_shows_its_password():
    for raw in ("http://bob:pa@ssW0rd@[::1/v1?model=m", "http://bob:pa/ssW0rd@host:1/v1?model=m", "http://u:ssW0rd@999.1.1.1/v1?model=m"):
        with pytest.raises(ModelConfigError) as info:
            parse_model_string(raw)
        assert "ssW0rd" not in str(info.value), raw


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40), st.sampled_from(["http://", "https://"]))
def test_any_model_url_parses_or_is_a_typed_error(rest, scheme):
    """Whatever follows the scheme: a spec whose URL the HTTP client accepts, or ModelConfigError."""
    try:
        spec = parse_model_string(f"{scheme}{rest}?model=m")
    except ModelConfigError:
        return
    httpx.URL(spec.base_url)  # what the client will be given


def test_every_model_string_form_has_one_backend():
    from aurelia.models.registry import BACKENDS, backend_for
    from aurelia.models.spec import CHAT_PROVIDERS

    forms = ["local", "gguf:/m.gguf", "hf:org/name", "http://127.0.0.1:8000/v1?model=m", *(f"{p}:m" for p in CHAT_PROVIDERS)]
    assert {parse_model_string(f).provider for f in forms} == set(BACKENDS)  # no back-end without a string, nor the reverse
    assert [f for f in forms if backend_for(f).media_target] == ["hf:org/name"]
    with pytest.raises(ModelConfigError, match="unknown model provider"):
        backend_for("nosuch:m")
