"""An OpenAI-compatible chat server on 127.0.0.1 that misbehaves on request, for the tests and
benchmarks of the retry policy, timeouts, credentials and load (loopback only, no network).

Each model name has a script: one behaviour per request, the last one repeating. Behaviours:
``ok``, ``429`` (``Retry-After: 1``; ``429:S`` asks for S seconds), ``500``, ``503``, ``400``,
``401``, ``hang`` (never answers), ``slow:S`` (answers after S seconds), ``drop`` (closes the
connection without a reply), ``truncated`` (a body shorter than its Content-Length),
``malformed`` (a 200 whose body is not JSON), ``empty`` (a completion with no text) and
``drip`` (headers at once, then the body one byte a second; ``drip:S`` one byte every S
seconds: never a per-read timeout, only a deadline on the whole response ends it). Every
request is recorded (model, headers, behaviour); ``cut_off`` names each drip the client
closed before its body was whole.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_LIMIT_S = 120.0  # a hung request is released at the latest when the server stops


@dataclass
class Seen:
    model: str
    behaviour: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FaultServer:
    """``with FaultServer({"m": ["429", "ok"]}, replies={"m": "hi"}) as server: server.url("m")``."""

    def __init__(self, scripts: dict[str, list[str]] | None = None, replies: dict[str, str] | None = None) -> None:
        self.scripts = {k: list(v) for k, v in (scripts or {}).items()}
        self.replies = dict(replies or {})
        self.seen: list[Seen] = []
        self.cut_off: list[str] = []  # models whose dripped body the client hung up on
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ control
    def __enter__(self) -> FaultServer:
        handler = _handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, name="fault-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # releases hung requests
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None, "use the server as a context manager"
        return self._server.server_address[1]

    def url(self, model: str, userinfo: str = "") -> str:
        """The model string of ``model`` on this server (``userinfo``: ``user:password``)."""
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}/v1?model={model}"

    def script(self, model: str, behaviours: list[str], reply: str | None = None) -> None:
        with self._lock:
            self.scripts[model] = list(behaviours)
            if reply is not None:
                self.replies[model] = reply
            self.seen = [s for s in self.seen if s.model != model]

    def count(self, model: str) -> int:
        with self._lock:
            return sum(1 for s in self.seen if s.model == model)

    # ------------------------------------------------------------------ internals
    def _next(self, model: str, headers: dict[str, str], body: dict[str, Any]) -> str:
        with self._lock:
            script = self.scripts.get(model) or ["ok"]
            done = sum(1 for s in self.seen if s.model == model)
            behaviour = script[min(done, len(script) - 1)]
            self.seen.append(Seen(model, behaviour, headers, body))
            return behaviour

    def completion(self, model: str, content: str | None = None) -> bytes:
        return completion_json(model, self.replies.get(model, "ok") if content is None else content)


def completion_json(model: str, content: str) -> bytes:
    """An OpenAI chat-completion response body with one assistant message (fixed token usage)."""
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    ).encode()


def send_json(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None
) -> None:
    """Write a JSON response (``length`` may lie, to fake a truncated body)."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def read_json(handler: BaseHTTPRequestHandler) -> Any:
    """The request's JSON body."""
    return json.loads(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) or b"{}")


def prompt_text(body: dict[str, Any]) -> str:
    """The text parts of a chat request, in order (images and audio left out)."""
    parts = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(p.get("text", "") for p in content or [] if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(parts)


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None) -> None:
            send_json(self, status, body, headers, length)

        def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps({"error": {"message": message, "type": "fault", "code": status}}).encode(), headers)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {}
            model = str(body.get("model", ""))
            behaviour = server._next(model, {k.lower(): v for k, v in self.headers.items()}, body)
            kind, _, arg = behaviour.partition(":")
            if kind == "ok":
                self._send(200, server.completion(model))
            elif kind == "429":
                self._error(429, "rate limited", {"Retry-After": arg or "1"})
            elif kind in {"400", "401", "500", "503"}:
                self._error(int(kind), f"fault {kind}")
            elif kind == "hang":
                server._stop.wait(HANG_LIMIT_S)
                self.close_connection = True
            elif kind == "slow":
                time.sleep(float(arg or 1))
                self._send(200, server.completion(model))
            elif kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif kind == "truncated":
                body_bytes = server.completion(model)
                self._send(200, body_bytes[: len(body_bytes) // 3], length=len(body_bytes))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif kind == "malformed":
                self._send(200, b'{"id": "chatcmpl-fault", "choices": [{"message": ')
            elif kind == "empty":
                self._send(200, server.completion(model, ""))
            elif kind == "drip":
                self._drip(model, float(arg or 1))
            else:  # pragma: no cover - a typo in a test's script
                self._error(500, f"unknown fault {behaviour!r}")

        def _drip(self, model: str, every: float) -> None:
            body = server.completion(model)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.close_connection = True
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    if server._stop.wait(every):  # the server stops: so does the drip
                        return
            except OSError:  # the client hung up (the deadline held)
                with server._lock:
                    server.cut_off.append(model)

    return Handler
