"""A minimal OpenAI-compatible chat server on a loopback port, for CLI tests that name models by
URL (``http://127.0.0.1:PORT/v1?model=NAME``): each model name replies with its scripted texts
in turn, with token usage, and every request is kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aurelia.testing.faults import LoopbackServer, QuietHandler, completion_json, read_json, send_json


@contextmanager
def openai_server(replies: dict[str, list[str]]) -> Iterator[tuple[str, list[dict]]]:
    """(base URL, requests) while the server runs."""
    requests: list[dict] = []
    turns = dict.fromkeys(replies, 0)
    lock = threading.Lock()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = read_json(self)
            with lock:
                requests.append(body)
                name = body["model"]
                text = replies[name][turns[name] % len(replies[name])]
                turns[name] += 1
            send_json(self, 200, completion_json(name, text))

    with LoopbackServer(Handler, "openai-fake") as server:
        yield f"{server.base_url}/v1", requests
