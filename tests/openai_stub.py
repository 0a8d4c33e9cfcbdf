"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests that go through model
strings (``http://127.0.0.1:PORT/v1?model=NAME``), the CLI and real LangChain clients.

``reply(model, text, body)`` returns the content of the assistant message, from the model name,
the whole prompt text and the request body; every request body is kept in ``requests``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aurelia.testing.faults import completion_json, prompt_text, read_json, send_json

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

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the http.server hook
            body = read_json(self)
            stub.requests.append(body)
            send_json(self, 200, completion_json(body.get("model", ""), reply(body.get("model", ""), prompt_text(body), body)))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
