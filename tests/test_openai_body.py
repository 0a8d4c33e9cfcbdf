"""The two CPU shortcuts on the OpenAI path change nothing a server or a caller sees.

- ``aurelia.models.openai_body``: the request body of a chat completion equals what the OpenAI
  SDK's own transform returns, for the bodies LangChain builds (text, media parts, tool calls, a
  JSON-schema ``response_format``, parameters left out); anything else goes to the SDK's transform.
- ``PreparedStructured``: a structured call sends the same body as
  ``ChatOpenAI.with_structured_output(schema, include_raw=True)`` and returns the same parsed value,
  or raises the same error, for replies as models write them.
"""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from openai import omit
from openai._utils._transform import async_transform, transform
from openai.lib._parsing._completions import type_to_response_format_param
from openai.types.chat import completion_create_params as params
from pydantic import BaseModel, ValidationError

from aurelia.models import openai_body
from aurelia.models.registry import resolve_model
from aurelia.models.structured import PreparedStructured, structured_runnable
from aurelia.schemas import Evaluation, Reasoning
from aurelia.testing.faults import FaultServer

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}
CONVERSATIONS = [
    [HumanMessage("Which colour is the last frame?")],
    [SystemMessage("You watch videos."), HumanMessage(content=[{"type": "text", "text": "Look and listen."}, IMAGE, AUDIO])],
    [
        HumanMessage("What is 2+2?"),
        AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2, "b": 2}, "id": "call_1"}]),
        ToolMessage("4", tool_call_id="call_1"),
    ],
]


def bodies() -> list[dict]:
    """Bodies as the SDK's ``create`` hands them to its transform: LangChain's payload, plus the
    parameters it leaves out (``omit``)."""
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="m", api_key="not-used", base_url="http://127.0.0.1:9/v1", temperature=0.0, seed=7, max_tokens=64)
    out = []
    for conversation in CONVERSATIONS:
        for extra in ({}, {"response_format": type_to_response_format_param(Evaluation)}):
            payload = model._get_request_payload(conversation, **extra)
            payload.pop("stream", None)
            out.append({**payload, "audio": omit, "top_p": omit, "stop": omit, "stream": False})
    return out


@pytest.mark.parametrize("body", bodies(), ids=lambda b: f"{len(b['messages'])}msgs-{'schema' if 'response_format' in b else 'text'}")
def test_the_body_is_what_the_sdk_transform_returns(body):
    kinds = openai_body._chat_params()
    for kind in kinds:
        shortcut = openai_body.as_sent(body, kind, kinds)
        assert shortcut is not None  # LangChain's bodies are plain JSON: the shortcut applies
        assert shortcut == transform(body, kind) == asyncio.run(async_transform(body, kind))
        assert "audio" not in shortcut and "top_p" not in shortcut  # what was left out stays out


class Note(BaseModel):
    text: str


def test_anything_else_goes_to_the_sdk_transform():
    kinds = openai_body._chat_params()
    body = bodies()[0]
    assert openai_body.as_sent({**body, "messages": tuple(body["messages"])}, kinds[0], kinds) is None  # an iterable
    assert openai_body.as_sent({**body, "metadata": Note(text="x")}, kinds[0], kinds) is None  # a pydantic object
    assert openai_body.as_sent(body, params.ResponseFormat, kinds) is None  # another parameter type
    assert not openai_body.plain({1: "a"}) and openai_body.plain({"a": [1, 2.5, None, True, {"b": "c"}]})
    assert openai_body.install() is True  # the SDK lays out its modules as expected; installing twice is a no-op
    assert openai_body.install() is True


REPLIES = [
    ('{"score": 7, "rationale": "the caption matches"}', "valid"),
    ('```json\n{"score": 7, "rationale": "fenced"}\n```', "fenced"),  # a model that fences its JSON
    ('{"score": "seven", "rationale": "words"}', "wrong-type"),
    ("Score: 6/10, close enough", "prose"),
    ("", "empty"),
]


def outcome(runnable, messages, mode):
    try:
        out = runnable.invoke(messages) if mode == "sync" else asyncio.run(runnable.ainvoke(messages))
    except ValidationError as exc:
        return "ValidationError", exc.error_count()
    parsed = out["parsed"]
    return (parsed.model_dump() if parsed is not None else None), out["raw"].content, type(out["parsing_error"]).__name__


@pytest.mark.parametrize(("reply", "name"), REPLIES, ids=[r[1] for r in REPLIES])
@pytest.mark.parametrize("schema", [Evaluation, Reasoning], ids=["evaluation", "reasoning"])
def test_a_prepared_structured_call_sends_and_reads_as_langchain_does(reply, name, schema):
    with FaultServer() as server:
        got = []
        for way in ("langchain", "prepared"):
            model = f"{way}-{name}"
            server.script(model, ["ok"], reply)
            rm = resolve_model(server.url(model), 5.0, False)
            runnable = rm.model.with_structured_output(schema, include_raw=True) if way == "langchain" else structured_runnable(rm, schema)
            assert isinstance(runnable, PreparedStructured) == (way == "prepared")
            results = [outcome(runnable, CONVERSATIONS[0], mode) for mode in ("sync", "async")]
            sent = [dict(seen.body, model=None) for seen in server.seen if seen.model == model]
            got.append((results, sent))
        assert got[0] == got[1]
        assert len(got[0][1]) == 2 and got[0][1][0]["response_format"] == type_to_response_format_param(schema)


def test_the_prepared_runnable_is_made_once_per_model_and_schema():
    with FaultServer() as server:
        rm = resolve_model(server.url("once"), 5.0, False)
        assert structured_runnable(rm, Evaluation) is structured_runnable(rm, Evaluation)
        assert structured_runnable(rm, Evaluation) is not structured_runnable(rm, Reasoning)
