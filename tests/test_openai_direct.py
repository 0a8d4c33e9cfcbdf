"""``aurelia.models.openai_direct``: an async chat completion of a client the registry built, sent
without the OpenAI SDK's request machinery, is the same request and gives the same result or error
as LangChain's own ``_agenerate`` through the SDK, for replies and failures as servers send them."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from aurelia.models import openai_direct
from aurelia.models.registry import resolve_model
from aurelia.models.retry import async_deadline_client, close_loop_transports
from aurelia.testing.faults import LoopbackServer, QuietHandler

MESSAGES = [SystemMessage("You watch videos."), HumanMessage("Which colour is the last frame?")]
SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "Answer", "strict": True, "schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
}


def completion(**over: Any) -> dict[str, Any]:
    message = {"role": "assistant", "content": '{"a": "blue"}'} | over.pop("message", {})
    choice = {"index": 0, "message": message, "finish_reason": "stop"} | over.pop("choice", {})
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m", "choices": [choice]} | over


USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
# (name, status, content type, body): replies as OpenAI, vLLM, llama.cpp's server and proxies write them
REPLIES = [
    ("minimal", 200, "application/json", completion()),
    (
        "vllm",
        200,
        "application/json",
        completion(usage=USAGE | {"prompt_tokens_details": None}, prompt_logprobs=None, kv_transfer_params=None),
    ),
    (
        "openai",
        200,
        "application/json; charset=utf-8",
        completion(
            usage=USAGE
            | {"prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}},
            system_fingerprint="fp_1",
            service_tier="default",
            message={"refusal": None, "annotations": []},
        ),
    ),
    ("llamacpp", 200, "application/json", completion(usage=USAGE, timings={"predicted_ms": 12.5}, system_fingerprint="b1-abc")),
    ("refusal", 200, "application/json", completion(message={"content": None, "refusal": "I can't help with that."})),
    ("no-usage-no-id", 200, "application/json", {k: v for k, v in completion().items() if k != "id"}),
    ("cut-short", 200, "application/json", completion(choice={"finish_reason": "length"}, usage=USAGE)),
    ("filtered", 200, "application/json", completion(choice={"finish_reason": "content_filter"})),
    ("logprobs", 200, "application/json", completion(choice={"logprobs": {"content": []}})),
    (
        "tool-call",
        200,
        "application/json",
        completion(
            message={"content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
        ),
    ),
    ("json-as-text", 200, "text/plain", completion()),
    ("html-page", 200, "text/html", "<html><body>Bad gateway</body></html>"),
    ("broken-json", 200, "application/json", '{"id": "chatcmpl-1", "choices": ['),
    ("null-choices", 200, "application/json", completion(choices=None)),
    ("error-in-body", 200, "application/json", {"error": {"message": "model overloaded"}, "choices": None}),
    ("bad-request", 400, "application/json", {"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}}),
    ("bad-schema", 400, "application/json", {"error": {"message": "Invalid schema for response_format 'Answer'"}}),
    ("context", 400, "application/json", {"error": {"message": "This request exceeds the context window of the model"}}),
    ("unauthorized", 401, "application/json", {"error": {"message": "Incorrect API key provided"}}),
    ("not-found", 404, "text/plain", "no such model"),
    ("rate-limited", 429, "application/json", {"error": {"message": "Rate limit reached"}}),
    ("server-error", 500, "application/json", {"detail": "boom"}),
    ("unavailable", 503, "text/html", "<html>503</html>"),
    ("redirect", 307, "text/plain", ""),
]


class Recorder(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(Scripted, "openai-direct")
        self.seen: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
        self.reply: tuple[int, str, Any] = (200, "application/json", completion())
        self.delay = 0.0


class Scripted(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append((self.command, self.path, sorted((k.lower(), v) for k, v in self.headers.items()), body))
        if self.server.delay:
            self.server.pause(self.server.delay)
        status, content_type, payload = self.server.reply
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if status == 307:
            self.send_header("Location", "/v1/elsewhere")
        self.end_headers()
        self.wfile.write(data)


def built(server: Recorder, **extra: Any) -> ChatOpenAI:
    """A ChatOpenAI as the registry builds one (its deadline client, no SDK retries), with ``extra``."""
    kwargs = {"max_retries": 0, "timeout": 5.0, "http_async_client": async_deadline_client(5.0)} | extra
    return ChatOpenAI(model="m", base_url=f"{server.base_url}/v1", api_key="sk-test", **kwargs)


def outcome(result: Any) -> Any:
    """What a caller sees: each generation's message and info and the run's output, or the error."""
    if isinstance(result, BaseException):
        return ("raised", type(result).__name__, str(result), type(result.__cause__).__name__ if result.__cause__ else None)
    return [(g.message.model_dump(), g.generation_info) for g in result.generations], result.llm_output


def both_ways(model: ChatOpenAI, **kwargs: Any) -> tuple[Any, Any]:
    """(LangChain's own _agenerate, the patched one) for one call each."""

    async def run() -> tuple[Any, Any]:
        try:
            got = []
            for agenerate in (openai_direct.ORIGINAL, type(model)._agenerate):
                try:
                    got.append(outcome(await agenerate(model, MESSAGES, **kwargs)))
                except Exception as exc:
                    got.append(outcome(exc))
            return got[0], got[1]
        finally:
            await close_loop_transports()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def server():
    assert openai_direct.install()
    with Recorder() as running:
        yield running


@pytest.fixture
def direct_calls(monkeypatch):
    calls = []
    real = openai_direct.agenerate_direct

    async def counted(*args: Any) -> Any:
        calls.append(args[2])
        return await real(*args)

    monkeypatch.setattr(openai_direct, "agenerate_direct", counted)
    return calls


@pytest.mark.parametrize("kwargs", [{}, {"response_format": SCHEMA}, {"stop": ["\n\n"], "temperature": 0.2}])
@pytest.mark.parametrize("extra", [{}, {"organization": "org-1", "default_headers": {"X-Team": "av"}, "max_tokens": 64, "seed": 3}])
def test_the_server_sees_the_same_request(server, direct_calls, kwargs, extra):
    server.reply, server.seen[:] = (200, "application/json", completion()), []
    assert both_ways(built(server, **extra), **kwargs)[0][0]  # a result, not an error
    assert len(server.seen) == 2 and len(direct_calls) == 1
    (method, path, headers, body), (*sent, sent_body) = server.seen
    assert [method, path, headers] == sent and json.loads(body) == json.loads(sent_body)  # keys in another order
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert ("authorization", "Bearer sk-test") in headers and ("response_format" in json.loads(body)) == ("response_format" in kwargs)


@pytest.mark.filterwarnings("ignore:Invalid schema for OpenAI:UserWarning")  # LangChain's, both ways
@pytest.mark.parametrize("parse", [False, True], ids=["create", "parse"])
@pytest.mark.parametrize(("name", "status", "content_type", "body"), REPLIES, ids=[r[0] for r in REPLIES])
def test_the_caller_sees_the_same_result_or_error(server, direct_calls, parse, name, status, content_type, body):
    server.reply = (status, content_type, body)
    native, direct = both_ways(built(server), **({"response_format": SCHEMA} if parse else {}))
    assert direct_calls, "the direct path was not taken"
    if name == "html-page" and parse:
        # the one difference: the SDK's parse() fails on a text reply with an AttributeError of its
        # own; the direct path gives LangChain's error for a reply that is not a completion
        assert native[:2] == ("raised", "AttributeError")
        assert direct[:2] == ("raised", "ValueError") and "Unexpected response type" in direct[2]
        return
    assert direct == native


def test_a_plain_reply_is_the_dict_the_sdk_objects_dump_to():
    from openai.types.chat import ChatCompletion

    for name, status, _, body in REPLIES:
        plain = openai_direct.plain_reply(body, parsed=False) if status == 200 else None
        if plain is not None:
            dumped = ChatCompletion.construct(**body).model_dump(warnings=False)
            assert plain == dumped, name
    assert openai_direct.plain_reply(completion(choice={"logprobs": {"content": []}}), parsed=False) is None
    assert openai_direct.plain_reply(completion(choice={"finish_reason": "length"}), parsed=True) is None


def test_timeouts_and_refused_connections_raise_as_through_the_sdk(server, direct_calls):
    server.reply, server.delay = (200, "application/json", completion()), 2.0
    try:
        native, direct = both_ways(built(server, timeout=0.3, http_async_client=async_deadline_client(0.3)))
    finally:
        server.delay = 0.0
    assert native == direct and native[1] == "OpenAITimeoutError"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = ChatOpenAI(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0, http_async_client=async_deadline_client(2.0)
    )
    native, direct = both_ways(model)
    assert native == direct and native[:3] == ("raised", "OpenAIConnectionError", "Connection error.")


def test_other_clients_and_requests_take_langchain_path(server, direct_calls):
    server.reply = (200, "application/json", completion())
    others = [
        built(server, max_retries=2),  # the SDK's own retries
        ChatOpenAI(model="m", base_url=f"{server.base_url}/v1", api_key="k", max_retries=0),  # not the registry's client
        built(server, extra_body={"top_k": 5}),
    ]
    for model in others:
        native, direct = both_ways(model)
        assert native == direct
    native, direct = both_ways(built(server), tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    assert native == direct
    assert direct_calls == []


def test_the_registry_models_take_the_direct_path(server, direct_calls):
    server.reply = (200, "application/json", completion(usage=USAGE))
    rm = resolve_model(f"{server.base_url}/v1?model=m", 5.0, False)

    async def run() -> Any:
        try:
            return await rm.model.ainvoke("hello")
        finally:
            await close_loop_transports()

    reply = asyncio.run(run())
    assert reply.content == '{"a": "blue"}' and reply.usage_metadata["total_tokens"] == 15
    assert len(direct_calls) == 1
