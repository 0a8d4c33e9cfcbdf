"""A scripted OpenAI-compatible chat server on 127.0.0.1, for tests that go through model
strings (``http://127.0.0.1:PORT/v1?model=NAME``), the CLI and real LangChain clients.

``reply(model, text, body)`` returns the content of the assistant message, from the model name,
the whole prompt text and the request body; every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[str, str, dict[str, Any]], str]


@dataclass
class Stub:
    base: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    def url(self, model: str) -> str:
        return f"{self.base}?model={model}"

    def sent_to(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("model") == model]


def prompt_text(body: dict[str, Any]) -> str:
    parts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(p.get("text", "") for p in content or [] if p.get("type") == "text")
    return "\n".join(parts)


@contextmanager
def openai_stub(reply: Reply) -> Iterator[Stub]:
    stub = Stub("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the http.server hook
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.requests.append(body)
            content = reply(body.get("model", ""), prompt_text(body), body)
            data = json.dumps(
                {
                    "id": "stub",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", ""),
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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
