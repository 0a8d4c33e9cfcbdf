"""A minimal OpenAI-compatible chat server on a loopback port, for CLI tests that name models by
URL (``http://127.0.0.1:PORT/v1?model=NAME``): each model name replies with its scripted texts
in turn, with token usage, and every request is kept."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def openai_server(replies: dict[str, list[str]]) -> Iterator[tuple[str, list[dict]]]:
    """(base URL, requests) while the server runs."""
    requests: list[dict] = []
    turns = dict.fromkeys(replies, 0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with lock:
                requests.append(body)
                name = body["model"]
                text = replies[name][turns[name] % len(replies[name])]
                turns[name] += 1
            reply = {
                "id": f"fake-{len(requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", requests
    finally:
        server.shutdown()
