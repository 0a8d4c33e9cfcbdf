"""The OpenAI SDK's chat request body, built without its type-driven transform where that
transform can only return its input.

Why: before each chat completion the SDK walks the whole body against its TypedDict annotations
(every message against each of the six message types, every content part against each part
type) to apply field aliases and formats. The chat-completion parameter types declare none, so
for a body of plain JSON values (what LangChain sends: dicts, lists, strings, numbers) the walk
returns the body unchanged, minus the parameters left out; it was about a fifth of the CPU of an
async benchmark run (``benchmarks/bench_scale.py``). :func:`install` gives the SDK's chat
completion ``create`` and ``parse`` a transform that returns such a body as is and hands
anything else (a pydantic object, a tuple, a generator, another parameter type) to the SDK's
own. ``tests/test_openai_body.py`` checks the two agree on the bodies LangChain builds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aurelia.models.patching import PatchOnce

_PLAIN_SCALARS = (str, int, float, bool, type(None))


def plain(value: Any) -> bool:
    """Whether ``value`` is JSON made of dicts with string keys, lists and scalars only."""
    if isinstance(value, _PLAIN_SCALARS):
        return True
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and plain(v) for k, v in value.items())
    if kind is list:
        return all(plain(v) for v in value)
    return False


def _chat_params() -> tuple[type, ...]:
    from openai.types.chat import completion_create_params as p

    return (p.CompletionCreateParams, p.CompletionCreateParamsNonStreaming, p.CompletionCreateParamsStreaming)


def as_sent(data: Any, expected_type: Any, params: tuple[type, ...]) -> dict[str, Any] | None:
    """The body the SDK's transform would return, when it can be known without it; else None."""
    if expected_type not in params or type(data) is not dict:
        return None
    from openai._utils import is_given

    body = {key: value for key, value in data.items() if is_given(value)}
    return body if plain(body) else None


def _sync(original: Callable[[Any, Any], Any], params: tuple[type, ...]) -> Callable[[Any, Any], Any]:
    def maybe_transform(data: Any, expected_type: Any) -> Any:
        body = as_sent(data, expected_type, params)
        return original(data, expected_type) if body is None else body

    return maybe_transform


def _async(original: Callable[[Any, Any], Any], params: tuple[type, ...]) -> Callable[[Any, Any], Any]:
    async def async_maybe_transform(data: Any, expected_type: Any) -> Any:
        body = as_sent(data, expected_type, params)
        return await original(data, expected_type) if body is None else body

    return async_maybe_transform


def install() -> bool:
    """Give the SDK's chat-completion ``create`` and ``parse`` the shortcut (once per process);
    False where this SDK version lays its modules out otherwise (its own transform stays)."""
    return _ONCE()


def _patch() -> bool:
    """Wrap both modules' transforms, or neither where this SDK lacks one of them."""
    try:
        import openai.lib._chat_completion_resources as parse_module
        import openai.resources.chat.completions.completions as create_module

        params = _chat_params()
    except (ImportError, AttributeError):
        return False
    for module in (create_module, parse_module):
        if not hasattr(module, "maybe_transform") or not hasattr(module, "async_maybe_transform"):
            return False
    for module in (create_module, parse_module):
        sync, asynchronous = module.maybe_transform, module.async_maybe_transform
        module.maybe_transform = _sync(sync, params)  # type: ignore[attr-defined]
        module.async_maybe_transform = _async(asynchronous, params)  # type: ignore[attr-defined]
    return True


_ONCE = PatchOnce(_patch)
