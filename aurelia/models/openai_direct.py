"""Async chat completions of the OpenAI clients Aurelia builds, sent without the OpenAI SDK's
per-request machinery.

Why: in an async benchmark run (``benchmarks/bench_scale.py`` at 256 samples in flight) the SDK's
request path (options copied and validated, headers merged twice, httpx's client send with its
auth, redirect and cookie passes) and its reply path (the JSON built into pydantic objects that
LangChain dumps back to a dict, in a thread) were about a fifth of the process's CPU: the
run is CPU-bound on its one event-loop thread at that concurrency, so that fifth was wall time.

What :func:`install` changes: ``ChatOpenAI._agenerate`` (the non-streaming async call) of a
model whose async client is one the registry built (:func:`~aurelia.models.retry.async_deadline_client`,
over :class:`~aurelia.models.retry.LoopTransport`, ``max_retries=0``, a static API key) sends
LangChain's own payload (the JSON object the SDK sends, its keys in LangChain's order) to the
SDK's own URL with the SDK's own headers, through the same transport and deadline, and builds
the result with LangChain's own ``_create_chat_result``.
A failed request raises what the SDK raises (its status errors, built by the SDK from the
response; ``APITimeoutError``; ``APIConnectionError``) through LangChain's own handlers. A reply
of the plain chat-completion shape (no tool calls, logprobs, audio or annotations) is given to
LangChain as the dict the SDK's objects would dump to; any other reply goes through the SDK's
own parsing, so nothing the SDK would raise or fill in is lost. Anything else (streaming, the
Responses API, a pydantic ``response_format``, tools, extra headers, query or body, Azure,
credentials in the base URL, token providers, another SDK layout) takes LangChain's own path
unchanged.
``tests/test_openai_direct.py`` checks both paths send the same request and give the same
result and errors, with one difference: a 2xx reply that is not JSON (an HTML page from a proxy)
to a ``parse`` call fails in the SDK with an AttributeError of its own, here with LangChain's
ValueError for a reply that is not a completion.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from aurelia.models.patching import PatchOnce
from aurelia.models.retry import LoopTransport

ORIGINAL: Callable[..., Any] | None = None  # LangChain's own _agenerate, for the fallback and tests

# payload keys the SDK's create() takes as request options, not body fields: not sent directly
_OPTION_KEYS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout", "tools", "functions", "stream_options"})
# fields a plain reply may carry as null only; anything else in them goes through the SDK's parsing
_RICH_MESSAGE_FIELDS = ("annotations", "audio", "function_call", "tool_calls")
_STOPPED_SHORT = ("length", "content_filter")  # parse() raises on these: left to the SDK


def install() -> bool:
    """Patch ``BaseChatOpenAI._agenerate`` once per process; False where this langchain-openai
    or SDK lacks what the direct path uses (LangChain's own path stays)."""
    return _ONCE()


def _patch() -> bool:
    global ORIGINAL
    try:
        from langchain_openai.chat_models import base
        from openai import AsyncOpenAI  # noqa: F401

        needed = (base._handle_openai_bad_request, base._handle_openai_api_error, base._add_gateway_metadata)
        original = base.BaseChatOpenAI._agenerate
    except (ImportError, AttributeError):
        return False
    if not all(callable(f) for f in needed) or not hasattr(base.BaseChatOpenAI, "_create_chat_result"):
        return False
    ORIGINAL = original

    async def _agenerate(self: Any, messages: list, stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any) -> Any:
        client = _direct_client(self)
        if client is not None:
            payload = self._get_request_payload(messages, stop=stop, **kwargs)
            if _direct_payload(self, payload):
                return await agenerate_direct(self, client, payload)
        return await original(self, messages, stop=stop, run_manager=run_manager, **kwargs)

    base.BaseChatOpenAI._agenerate = _agenerate  # type: ignore[method-assign]
    return True


_ONCE = PatchOnce(_patch)


def _direct_client(model: Any) -> Any | None:
    """The model's ``AsyncOpenAI`` client when it is one the direct path serves exactly as the SDK would."""
    import openai

    client = getattr(model, "root_async_client", None)
    http = getattr(model, "http_async_client", None)
    if type(client) is not openai.AsyncOpenAI or not isinstance(http, httpx.AsyncClient):
        return None
    if not isinstance(getattr(http, "_transport", None), LoopTransport) or http.cookies or http.auth is not None:
        return None
    if client.base_url.userinfo:  # httpx's auth pass turns URL credentials into a Basic header
        return None
    if client.max_retries != 0 or not isinstance(client.api_key, str) or client._custom_query:
        return None
    if getattr(client, "_provider_runtime", None) is not None or getattr(client, "workload_identity", None) is not None:
        return None
    if getattr(client, "_idempotency_header", None) or client.custom_auth is not None:
        return None
    return client


def _direct_payload(model: Any, payload: dict[str, Any]) -> bool:
    """Whether the payload is a chat completion the SDK would send as is (see the module docstring)."""
    if payload.get("stream") or _OPTION_KEYS.intersection(payload) or model._use_responses_api(payload):
        return False
    response_format = payload.get("response_format")
    return response_format is None or type(response_format) is dict


def _read_timeout(client: Any) -> str | None:
    timeout = client.timeout
    read = getattr(timeout, "read", timeout)
    return None if read is None or read.__class__.__name__ in ("NotGiven", "Omit") else str(read)


def request_for(client: Any, http: httpx.AsyncClient, payload: dict[str, Any], parsed: bool) -> httpx.Request:
    """The request the SDK builds for ``payload`` (LangChain's ``with_raw_response`` call of
    ``create``, or of ``parse`` when ``parsed``): its URL, its headers over the httpx client's own,
    the same JSON body (``stream: false`` included: LangChain drops it before ``parse``, which
    puts it back), encoded as httpx encodes JSON."""
    from openai import Omit

    sdk: dict[str, str] = {}
    if client.api_key:
        sdk["Authorization"] = f"Bearer {client.api_key}"
    sdk.update((k, v) for k, v in client.default_headers.items() if not isinstance(v, Omit))
    if parsed:
        sdk["X-Stainless-Helper-Method"] = "chat.completions.parse"
    sdk["X-Stainless-Raw-Response"] = "true"
    sdk["x-stainless-retry-count"] = "0"
    if (read := _read_timeout(client)) is not None:
        sdk["x-stainless-read-timeout"] = read
    headers = httpx.Headers(http.headers)
    headers.update(sdk)
    return httpx.Request("POST", str(client._prepare_url("/chat/completions")), headers=headers, json=payload)


async def _send(client: Any, http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """The response, read whole; the SDK's errors for a timeout, a failed connection or a non-2xx status."""
    import openai

    try:
        response = await http._transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
    except httpx.TimeoutException as exc:
        raise openai.APITimeoutError(request=request) from exc  # type: ignore[arg-type]
    except (httpx.HTTPError, OSError) as exc:
        raise openai.APIConnectionError(request=request) from exc  # type: ignore[arg-type]
    if not response.is_success:
        raise client._make_status_error_from_response(response) from None
    return response


def _decoded(response: httpx.Response) -> Any:
    """The reply as the SDK reads it: JSON, or text when a non-JSON content type does not parse."""
    try:
        return json.loads(response.content)
    except ValueError:
        if response.headers.get("content-type", "*").split(";")[0].endswith("json"):
            raise  # a JSON reply that does not parse fails as in the SDK
        return response.text


def _filled(given: dict[str, Any], model: type) -> dict[str, Any] | None:
    """``given`` with the optional fields of the SDK's ``model`` it lacks set to their defaults (what
    a constructed object dumps); None when it lacks a required one."""
    out = dict(given)
    for name, field in model.model_fields.items():
        if name not in out:
            if field.is_required():
                return None
            out[name] = field.default
    return out


def plain_reply(data: Any, parsed: bool) -> dict[str, Any] | None:
    """The dict the SDK's objects for ``data`` would dump to (LangChain's view of the reply), for
    a reply of the plain shape; None for anything the SDK's own parsing should see."""
    from openai.types.chat import ChatCompletion, ChatCompletionMessage
    from openai.types.chat.chat_completion import Choice
    from openai.types.completion_usage import CompletionTokensDetails, CompletionUsage, PromptTokensDetails

    if type(data) is not dict or type(data.get("choices")) is not list or (top := _filled(data, ChatCompletion)) is None:
        return None
    choices = []
    for choice in data["choices"]:
        if type(choice) is not dict or choice.get("logprobs") is not None or type(choice.get("message")) is not dict:
            return None
        if parsed and choice.get("finish_reason") in _STOPPED_SHORT:
            return None
        message = _filled(choice["message"], ChatCompletionMessage)
        filled = _filled(choice, Choice)
        if message is None or filled is None or any(message[k] is not None for k in _RICH_MESSAGE_FIELDS):
            return None
        choices.append(filled | {"message": message})
    top["choices"] = choices
    usage = top["usage"]
    if usage is not None:
        if type(usage) is not dict or (usage := _filled(usage, CompletionUsage)) is None:
            return None
        for key, model in (("completion_tokens_details", CompletionTokensDetails), ("prompt_tokens_details", PromptTokensDetails)):
            if usage[key] is not None:
                if type(usage[key]) is not dict:
                    return None
                usage[key] = _filled(usage[key], model)
        top["usage"] = usage
    return top


def _sdk_reply(client: Any, response: httpx.Response, data: Any, payload: dict[str, Any]) -> Any:
    """What LangChain gets from the SDK for a reply that is not of the plain shape (its errors included)."""
    from openai import omit
    from openai.lib._parsing._completions import parse_chat_completion
    from openai.types.chat import ChatCompletion

    if isinstance(data, str):
        return data
    completion = client._process_response_data(data=data, cast_to=ChatCompletion, response=response)
    if "response_format" not in payload:
        return completion
    return parse_chat_completion(response_format=payload["response_format"], input_tools=omit, chat_completion=completion)


async def agenerate_direct(model: Any, client: Any, payload: dict[str, Any]) -> Any:
    """LangChain's ``_agenerate`` for ``payload`` without the SDK's request machinery (module docstring)."""
    import openai
    from langchain_openai.chat_models import base

    parsed = "response_format" in payload
    response = None
    try:
        response = await _send(client, model.http_async_client, request_for(client, model.http_async_client, payload, parsed))
        data = _decoded(response)
        plain = plain_reply(data, parsed)
        reply = plain if plain is not None else _sdk_reply(client, response, data, payload)
    except openai.BadRequestError as e:
        base._handle_openai_bad_request(e)
        raise
    except openai.APIError as e:
        base._handle_openai_api_error(e)
        raise
    except Exception as e:
        if response is not None:
            e.response = response  # type: ignore[attr-defined]
        raise
    generation_info: dict[str, Any] = {"headers": dict(response.headers)} if model.include_response_headers else {}
    base._add_gateway_metadata(generation_info, response)
    result = model._create_chat_result(reply, generation_info)
    if plain is not None:  # what LangChain copies from the SDK's message object
        extra = result.generations[0].message.additional_kwargs
        if parsed:
            extra["parsed"] = None  # a dict response_format: the SDK parses nothing
        extra["refusal"] = plain["choices"][0]["message"]["refusal"]
    return result
