"""LangSmith tracing: names, tags and metadata for every agent call, and a scrubber for traces.

LangGraph and LangChain trace through LangSmith when ``LANGSMITH_TRACING=true``. Aurelia adds:
  * on each node run (``generator``, ``summarizer``, ``evaluator``, ``feedback``, ``review``,
    ``target``): tags ``role:…``, ``model:…``, ``iteration:N`` and metadata (sample id,
    iteration, τ, T, prompt set, feedback mode, early stop, injection position, extractor, and
    the evaluator's score and stop decision);
  * on each agent call inside a node, a child run named ``generator #2`` with the same tags;
  * on the graphs it builds, a tracer whose LangSmith client's ``hide_inputs``/``hide_outputs``/
    ``hide_metadata`` hooks replace base64 media and data URLs by a reference (mime type, size,
    sha256) and redact secrets, so a trace never carries media bytes or API keys. LangSmith's
    process-wide client is never replaced.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from aurelia.redact import env_secrets, redact_text

REDACTED = "[redacted]"
SECRET_KEY = re.compile(r"(^|[_-])(api[_-]?key|apikey|secret|password|passwd|authorization|access[_-]?token|auth[_-]?token|bearer)$", re.I)
DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?;base64,([A-Za-z0-9+/=\s]+)")
BASE64_RUN = re.compile(r"^[A-Za-z0-9+/]{200,}={0,2}$")
MEDIA_KEYS = ("base64", "data", "image_url", "input_audio", "url")


def _ref(payload: str, mime: str | None) -> dict[str, Any]:
    """A reference in place of base64 bytes: what it was, how big, and its hash."""
    try:
        raw = base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError):
        raw = payload.encode()
    return {"omitted": "base64 media", "mime_type": mime, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def _scrub_str(text: str) -> Any:
    if BASE64_RUN.match(text):
        return _ref(text, None)
    return DATA_URL.sub(lambda m: f"[data URL omitted: {m.group(1)}, sha256 {_ref(m.group(2), m.group(1))['sha256'][:16]}]", text)


def _scrub(value: Any) -> Any:
    """Media bytes become references; fields named like secrets are redacted."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        mime = value.get("mime_type") if isinstance(value.get("mime_type"), str) else None
        for key, item in value.items():
            if isinstance(key, str) and SECRET_KEY.search(key) and item:
                out[key] = REDACTED
            elif key in MEDIA_KEYS and isinstance(item, str) and (BASE64_RUN.match(item) or item.startswith("data:")):
                match = DATA_URL.match(item)
                out[key] = _ref(match.group(2), match.group(1)) if match else _ref(item, mime)
            else:
                out[key] = _scrub(item)
        return out
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return _scrub_str(value)
    if isinstance(value, BaseModel):  # messages and documents inside chain inputs, not yet serialised
        return _scrub(value.model_dump())
    return value


def scrub(data: Any) -> Any:
    """A copy of ``data`` with media bytes replaced by references and secrets redacted by
    langsmith's anonymizer: key formats, the values of secret-named environment variables and
    URL credentials (:func:`aurelia.redact.redact_text`, the redaction every record uses)."""
    from langsmith.anonymizer import create_anonymizer

    secrets = env_secrets()
    return create_anonymizer(lambda text: redact_text(text, secrets, mask=REDACTED), max_depth=64)(_scrub(data))


def scrubbing_client(**kwargs: Any):
    """A ``langsmith.Client`` that scrubs every run's inputs, outputs and metadata
    (``LANGSMITH_HIDE_INPUTS``/``_OUTPUTS``/``_METADATA=true`` still hide them entirely)."""
    from langsmith import Client
    from langsmith.utils import get_env_var

    hooks = {f"hide_{part}": True if get_env_var(f"HIDE_{part.upper()}") == "true" else scrub for part in ("inputs", "outputs", "metadata")}
    return Client(**{**hooks, **kwargs})


def tracing_enabled() -> bool:
    from langsmith.utils import tracing_is_enabled

    return bool(tracing_is_enabled())


@lru_cache(maxsize=1)
def default_scrubbing_client() -> Any:
    """One scrubbing client per process (its background sender is shared by every run)."""
    return scrubbing_client()


def scrubbing_tracer(client: Any = None) -> Any:
    """A LangChain tracer for the runs Aurelia makes, sending through a scrubbing client; None
    when LangSmith tracing is off or ``AURELIA_TRACE_SCRUB=0`` (then LangChain's own tracer, if
    any, runs as usual). LangSmith's process-wide client is left alone, so a host app keeps its
    own. Pass ``client`` (e.g. :func:`scrubbing_client` with another endpoint) to choose it."""
    if client is None and (os.environ.get("AURELIA_TRACE_SCRUB", "1") == "0" or not tracing_enabled()):
        return None
    from langchain_core.tracers.langchain import LangChainTracer

    return LangChainTracer(client=client or default_scrubbing_client())


def agent_config(role: str, iteration: int, model: str, meta: Mapping[str, Any]) -> RunnableConfig:
    """Config for one agent call: a run named ``generator #2`` with role/model tags and metadata."""
    return {
        "run_name": f"{role} #{iteration}",
        "tags": [f"role:{role}", f"model:{model}", f"iteration:{iteration}"],
        "metadata": {"aurelia_role": role, "model": model, "iteration": iteration, **meta},
    }


def annotate_node_run(*, tags: list[str] | None = None, metadata: Mapping[str, Any] | None = None) -> None:
    """Add tags and metadata to the LangSmith run of the node being executed (no-op untraced).

    The node's run is opened by LangGraph before the node knows its iteration or score; the
    tracer sends tags and metadata again when the run ends, so additions made here arrive.
    """
    from langsmith import get_current_run_tree

    run = get_current_run_tree()
    if run is None:
        return
    if tags:
        run.tags = sorted(set(run.tags or []) | set(tags))
    if metadata:
        run.metadata.update(scrub(dict(metadata)))


RECORDED_SETTINGS = ("prompt_set", "prompts", "feedback_mode", "early_stop", "inject_position", "extractor")


def run_meta(state: Mapping[str, Any], ctx: Any, iteration: int) -> dict[str, Any]:
    """Metadata every agent call of a run carries: the sample, iteration, τ, T and the settings
    that change what is measured (from the run's ``settings`` record, else the context)."""
    settings = state.get("settings") or {}
    return {
        "sample_id": state.get("sample_id"),
        "iteration": iteration,
        "threshold": ctx.threshold,
        "max_iterations": ctx.max_iterations,
        **{key: settings.get(key, getattr(ctx, key, None)) for key in RECORDED_SETTINGS},
    }
