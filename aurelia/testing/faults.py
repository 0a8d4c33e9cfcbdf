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

Every test server of the tree is a :class:`LoopbackServer` (with a :class:`QuietHandler`): one
that never outlives its ``with`` block, so no handler of one test writes into the next one.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

HANG_LIMIT_S = 120.0  # a hung request is released at the latest when the server stops


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that never writes to stderr: by the time it would, sys.stderr may be
    another test's captured stream."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that never outlives its ``with`` block.

    A handler thread left running after its test once waited on a gate no one set, then wrote to
    a killed client, and socketserver printed the BrokenPipeError into the next test's captured
    stderr. So here: handler errors are never printed (a client that went away is expected; any
    other error is kept in ``errors``); a handler waits only through :meth:`hold` or :meth:`pause`,
    which closing releases; closing stops accepting, closes the listening socket, cuts the open
    connections (a handler blocked reading returns) and joins every thread it started, and fails
    loudly if one still runs after ``JOIN_S`` seconds."""

    daemon_threads = False
    block_on_close = False  # close() joins the handlers itself, with a deadline
    JOIN_S = 30.0

    def __init__(self, handler: type[BaseHTTPRequestHandler], label: str = "loopback-server") -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.label = label
        self.stopping = threading.Event()  # set once closing starts
        self.errors: list[str] = []  # tracebacks of handler errors other than a client gone away
        self._track = threading.Lock()
        self._held: set[threading.Event] = set()
        self._handlers: dict[threading.Thread, socket.socket] = {}
        self._loop: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Self:
        """Serve in a thread of its own (joined by :meth:`close`)."""
        self._loop = threading.Thread(target=self.serve_forever, args=(0.05,), name=f"{self.label} serve_forever")
        self._loop.start()
        return self

    def hold(self, event: threading.Event, timeout: float) -> bool:
        """Wait up to ``timeout`` s for ``event``, as a handler may: closing the server sets it."""
        with self._track:
            if self.stopping.is_set():
                return event.is_set()
            self._held.add(event)
        return event.wait(timeout)

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` in a handler, cut short when the server closes."""
        self.stopping.wait(seconds)

    def close(self) -> None:
        """Release every wait, stop serving, cut the connections and join every thread."""
        with self._track:
            self.stopping.set()
            for event in self._held:
                event.set()
        if self._loop is not None:
            self.shutdown()  # returns once serve_forever has: no request is accepted after this
            self._loop.join()
        self.server_close()
        with self._track:
            handlers = dict(self._handlers)
        for connection in handlers.values():
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:  # closed already: its handler is done
                pass
        deadline = time.monotonic() + self.JOIN_S
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))
        if stuck := [t.name for t in handlers if t.is_alive()]:
            raise AssertionError(f"{self.label}: handler threads still running {self.JOIN_S:.0f} s after close: {stuck}")

    # socketserver hooks
    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), name=f"{self.label} process_request {client_address[1]}"
        )
        with self._track:
            for done in [t for t in self._handlers if not t.is_alive()]:
                del self._handlers[done]
            self._handlers[thread] = request
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # the client went away, or close() cut it off
            return
        with self._track:
            self.errors.append(traceback.format_exc())


@dataclass
class Seen:
    model: str
    behaviour: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FaultServer(LoopbackServer):
    """``with FaultServer({"m": ["429", "ok"]}, replies={"m": "hi"}) as server: server.url("m")``."""

    def __init__(self, scripts: dict[str, list[str]] | None = None, replies: dict[str, str] | None = None) -> None:
        super().__init__(_FaultHandler, "fault-server")
        self.scripts = {k: list(v) for k, v in (scripts or {}).items()}
        self.replies = dict(replies or {})
        self.seen: list[Seen] = []
        self.cut_off: list[str] = []  # models whose dripped body the client hung up on
        self._lock = threading.Lock()

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


def until(check: Any, limit: float = 30.0) -> bool:
    """Wait for ``check()`` to hold (a generous limit for a slow machine, not a timing claim)."""
    end = time.monotonic() + limit
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


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


class _FaultHandler(QuietHandler):
    server: FaultServer

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None) -> None:
        send_json(self, status, body, headers, length)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps({"error": {"message": message, "type": "fault", "code": status}}).encode(), headers)

    def do_POST(self) -> None:
        server = self.server
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
            server.pause(HANG_LIMIT_S)
            self.close_connection = True
        elif kind == "slow":
            server.pause(float(arg or 1))
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
        server = self.server
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
                if server.stopping.wait(every):  # the server stops: so does the drip
                    return
        except OSError:  # the client hung up (the deadline held)
            with server._lock:
                server.cut_off.append(model)
