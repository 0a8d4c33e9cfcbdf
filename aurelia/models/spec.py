"""Model strings -> a parsed spec: provider, model name, and the modalities it accepts.

Accepted forms (one per role):
  ``local``                     the embedded SmolLM2-135M-Instruct GGUF, run by llama.cpp
  ``gguf:<path>``               any GGUF file, run the same way
  ``hf:<hub id or local path>`` a local Hugging Face model (transformers)
  ``openai:<model>``, ``google_genai:<model>``, ``anthropic:<model>``, ``ollama:<model>``,
  or any other ``provider:model`` that LangChain's ``init_chat_model`` knows
  ``http(s)://host:port/v1?model=<name>``  an OpenAI-compatible server (vLLM, llama-server…)
A suffix ``#image+audio`` (any of text, image, audio, video) overrides the modalities.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, urlsplit, urlunsplit

import httpx

from aurelia.errors import MissingAPIKeyError, ModelConfigError
from aurelia.redact import MASK, redact_url

MODALITIES = {"text", "image", "audio", "video"}
IPV4_LIKE = re.compile(r"[0-9.]+")  # a host of digits and dots is an IPv4 address or nothing

API_KEYS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "google_genai": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "groq": ("GROQ_API_KEY",),
    "mistralai": ("MISTRAL_API_KEY",),
    "fireworks": ("FIREWORKS_API_KEY",),
    "together": ("TOGETHER_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "xai": ("XAI_API_KEY",),
}

# providers init_chat_model understands (langchain 1.x), besides the ones we handle ourselves
CHAT_PROVIDERS = {
    "openai",
    "anthropic",
    "google_genai",
    "google_vertexai",
    "ollama",
    "azure_openai",
    "bedrock",
    "bedrock_converse",
    "groq",
    "mistralai",
    "fireworks",
    "together",
    "deepseek",
    "xai",
    "cohere",
    "huggingface",
    "perplexity",
    "ibm",
    "nvidia",
}


@dataclass(frozen=True)
class ModelSpec:
    raw: str
    provider: str
    name: str
    modalities: frozenset[str]
    base_url: str | None = None

    @property
    def label(self) -> str:
        """The string to record in results, traces and checkpoints: a URL's ``user:password@``
        part becomes ``***@`` (and a key in its query ``***``), so a credential typed into a model
        string is never stored."""
        return redact_url(self.raw)


def default_modalities(provider: str, name: str) -> frozenset[str]:
    lname = name.lower()
    if provider in {"google_genai", "google_vertexai"}:
        return frozenset({"text", "image", "audio", "video"})
    if provider in {"openai", "azure_openai"}:
        if "audio" in lname:
            return frozenset({"text", "audio"})
        return frozenset({"text", "image"})
    if provider in {"anthropic", "bedrock_converse"}:
        return frozenset({"text", "image"})
    return frozenset({"text"})


def parse_model_string(raw: str) -> ModelSpec:
    """Parse (without loading) a model string; raises ModelConfigError on an unknown form."""
    text = (raw or "").strip()
    if not text:
        raise ModelConfigError("empty model string")
    override = None
    if "#" in text:
        text, _, mods = text.partition("#")
        override = frozenset(m.strip() for m in mods.replace(",", "+").split("+") if m.strip()) | {"text"}
        unknown = override - MODALITIES
        if unknown:
            raise ModelConfigError(f"unknown modality {sorted(unknown)} in model string {raw!r} (use {sorted(MODALITIES)})")
    if text == "local":
        spec = ModelSpec(raw, "local", "SmolLM2-135M-Instruct", frozenset({"text"}))
    elif text.startswith(("http://", "https://")):
        parts = _check_url(text, raw)
        name = parse_qs(parts.query).get("model", [""])[0]
        if not name:
            raise ModelConfigError(f"OpenAI-compatible URL needs ?model=<name>: {raw!r}")
        base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        spec = ModelSpec(raw, "openai_compatible", name, frozenset({"text"}), base_url=base)
    elif ":" in text:
        provider, _, name = text.partition(":")
        provider = provider.strip().lower()
        name = name.strip()
        if not name:
            raise ModelConfigError(f"model string {raw!r} names no model after '{provider}:'")
        if provider in {"gguf", "hf"}:
            spec = ModelSpec(raw, provider, name, frozenset({"text"}))
        elif provider in CHAT_PROVIDERS:
            spec = ModelSpec(raw, provider, name, default_modalities(provider, name))
        else:
            raise ModelConfigError(
                f"unknown model provider {provider!r} in {raw!r} (use local, gguf:PATH, hf:ID, "
                f"an http(s) URL with ?model=, or one of {', '.join(sorted(CHAT_PROVIDERS))})"
            )
    else:
        raise ModelConfigError(f"unknown model string {raw!r}: expected 'local', 'provider:model', 'gguf:PATH', 'hf:ID' or a URL")
    if override is not None:
        spec = ModelSpec(spec.raw, spec.provider, spec.name, override, spec.base_url)
    return spec


def _shown(raw: str) -> str:
    """A malformed model URL as an error shows it: everything up to the last ``@`` after the
    scheme is masked (a broken authority may hide a password where no parser finds it)."""
    head, sep, rest = raw.partition("://")
    if sep and "@" in rest:
        rest = MASK + "@" + rest.rpartition("@")[2]
    return redact_url(head + sep + rest)


def _check_host(host: str) -> str | None:
    """Why ``host`` cannot be connected to, or None: an IP literal must be a real address and a
    name must be valid IDNA (no empty or over-long label)."""
    if ":" in host:  # urlsplit unwraps "[::1]"
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError as exc:
            return f"invalid IPv6 address ({exc})"
        return None
    if IPV4_LIKE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            return f"invalid IPv4 address ({exc})"
        return None
    try:
        host.encode("idna")
    except UnicodeError as exc:
        return f"invalid host name ({exc})"
    return None


def _check_url(text: str, raw: str) -> SplitResult:
    """The parts of a model URL. Whatever would stop the HTTP client later (a blank or control
    character, an unbalanced ``[``, a bad port, no host, an impossible IP address, a bad host
    name) is a ModelConfigError now, before any work."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ModelConfigError(f"model URL {_shown(raw)!r} holds a space or control character")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise ModelConfigError(f"model URL {_shown(raw)!r} is malformed ({exc})") from exc
    try:
        port = parts.port
    except ValueError as exc:  # "Port out of range 0-65535", a non-numeric port
        raise ModelConfigError(f"model URL {_shown(raw)!r} has an invalid port ({exc})") from exc
    if port == 0:
        raise ModelConfigError(f"model URL {_shown(raw)!r} has an invalid port (0)")
    if not parts.hostname:
        raise ModelConfigError(f"model URL {_shown(raw)!r} names no host")
    problem = _check_host(parts.hostname)
    if problem:
        raise ModelConfigError(f"model URL {_shown(raw)!r} has an {problem}")
    try:
        httpx.URL(text)  # the client that will make the requests: what it refuses is refused now
    except (httpx.InvalidURL, ValueError) as exc:
        raise ModelConfigError(f"model URL {_shown(raw)!r} is malformed ({exc})") from exc
    return parts


def check_api_key(spec: ModelSpec) -> None:
    """Fail early, with the variable's name, when a hosted provider's key is not set."""
    names = API_KEYS.get(spec.provider)
    if names and not any(os.environ.get(n) for n in names):
        raise MissingAPIKeyError(f"model {spec.label!r} needs the environment variable {' or '.join(names)}")
