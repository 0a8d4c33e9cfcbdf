"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests that go through model
strings (``http://127.0.0.1:PORT/v1?model=NAME``), the CLI and real LangChain clients.

``reply(model, text, body)`` returns the content of the assistant message, from the model name,
the whole prompt text and the request body; every request body is kept in ``requests``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aurelia.testing.faults import LoopbackServer, QuietHandler, completion_json, prompt_text, read_json, send_json

Reply = Callable[[str, str, dict[str, Any]], str]


@dataclass
class Stub:
    base: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    def url(self, model: str) -> str:
        return f"{self.base}?model={model}"

    def sent_to(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("model") == model]


@contextmanager
def openai_stub(reply: Reply) -> Iterator[Stub]:
    stub = Stub("")

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # the http.server hook
            body = read_json(self)
            stub.requests.append(body)
            send_json(self, 200, completion_json(body.get("model", ""), reply(body.get("model", ""), prompt_text(body), body)))

    with LoopbackServer(Handler, "openai-stub") as server:
        stub.base = f"{server.base_url}/v1"
        yield stub
