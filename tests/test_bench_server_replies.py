"""``aurelia bench run --server`` against a small LangGraph API server on 127.0.0.1 whose replies
the test chooses: a healthy reply (the real reasoning graph with fake models, run in the
handler), ``{}``, a list, a malformed ``calls`` field, a reply over the size limit and one that
never ends. A bad reply fails its sample with the reason and is never cached; a rerun against a
healthy server completes; no key and no URL credential leaves for the server or lands in a file
unless the user opts in; a malformed trajectory already stored does not break ``bench report``."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from openai_fake import openai_server
from test_bench_runner import write_manifest
from typer.testing import CliRunner

import aurelia.bench.remote as remote
from aurelia.bench import run_benchmark, write_report
from aurelia.bench.cache import ReasoningCache
from aurelia.cli import app
from aurelia.errors import InputError
from aurelia.graph.builder import build_graph
from aurelia.run import make_context
from aurelia.testing.chat import TimedFakeChat, agent_models

runner = CliRunner()
PASSWORD = "s3cret-Pw-in-url"
LANGSMITH_KEY = "lsv2_pt_" + "k" * 32
Reply = Callable[[dict[str, Any]], bytes | Iterator[bytes]]


class LangGraphAPI:
    """The two routes ``--server`` calls: ``POST /assistants/search`` and ``POST /runs/wait``;
    ``reply`` makes the body of each ``/runs/wait``. Handler errors are silent, the gate that a
    hanging reply waits on is released at exit and every handler thread is joined."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.sent = 0  # bytes of /runs/wait bodies written before the client hung up
        self.gate = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"null")
                api.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                try:
                    if self.path == "/assistants/search":
                        self.answer(json.dumps([{"assistant_id": "a-1", "graph_id": body["graph_id"]}]).encode())
                    else:
                        self.answer(api.reply(body))
                except OSError:  # the client hung up (a reply it refused): nothing to report
                    pass

            def answer(self, payload: bytes | Iterator[bytes]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if isinstance(payload, bytes):
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                for chunk in [payload] if isinstance(payload, bytes) else payload:
                    if api.gate.is_set():
                        return
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    api.sent += len(chunk)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = False  # server_close joins the handler threads
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, userinfo: str = "") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{userinfo}{host}:{port}"

    def waits(self) -> list[tuple[dict[str, str], Any]]:
        return [(h, b) for p, h, b in self.requests if p == "/runs/wait"]

    def __enter__(self) -> LangGraphAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def healthy() -> Reply:
    """The real reasoning graph (fake agent models) run on the request, as a server would."""
    graph = build_graph(models=agent_models(), reasoning_only=True)

    def reply(body: dict[str, Any]) -> bytes:
        out = graph.invoke(body["input"], context=make_context(body["context"]))
        return json.dumps(out, default=str).encode()

    return reply


def fixed(value: Any) -> Reply:
    return lambda body: json.dumps(value).encode()


def run(tmp: Path, manifest: Path, server: str, **kwargs: Any) -> Any:
    kwargs.setdefault("cache", tmp / "cache.sqlite")
    return run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, tmp / "run", server=server, **kwargs)


def sample_errors(folder: Path) -> dict[str, str]:
    with sqlite3.connect(folder / "store.sqlite") as db:
        return dict(db.execute("SELECT id, error FROM samples WHERE status = 'failed'").fetchall())


def cached(tmp: Path) -> int:
    cache = ReasoningCache(tmp / "cache.sqlite")
    try:
        return len(cache)
    finally:
        cache.close()


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({}, "an empty object: no r* in it"),
        ([{"reasoning_star": {}}], "got a list"),
        (
            {"reasoning_star": {"steps": [{"step": "look", "answer": "green"}], "final_answer": "green"}, "calls": "everything"},
            "calls: input should be a valid list",
        ),
        (
            {"reasoning_star": {"steps": [{"step": "look", "answer": "green"}]}, "calls": [{"role": "generator", "iteration": 1}]},
            "calls.0.seconds: field required",
        ),
        ({"__error__": {"error": "ValueError", "message": "boom"}}, "failed"),
    ],
    ids=["empty", "list", "calls-not-a-list", "call-without-seconds", "server-error"],
)
def test_a_bad_reply_fails_its_sample_is_never_cached_and_a_rerun_completes(tmp_path, clip, reply, reason):
    manifest = write_manifest(tmp_path, clip, 2)
    with LangGraphAPI(fixed(reply)) as api:
        first = run(tmp_path, manifest, api.url())
    assert first.counts.samples_failed == 2 and first.counts.reasoning_generated == 0
    errors = sample_errors(tmp_path / "run")
    assert set(errors) == {"s0", "s1"} and all(reason.lower() in e.lower() for e in errors.values()), errors
    assert cached(tmp_path) == 0  # nothing malformed is ever cached
    records = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert {(r["inject"], bool(r["error"])) for r in records} == {("none", False), ("steps", True)}
    with LangGraphAPI(healthy()) as api:
        again = run(tmp_path, manifest, api.url(), retry_failed=True)
    assert again.counts.samples_failed == 0 and again.counts.reasoning_generated == 2 and cached(tmp_path) == 2
    assert sample_errors(tmp_path / "run") == {}
    records = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 4 and not any(r["error"] for r in records)


def test_a_malformed_reply_cached_by_an_older_version_is_a_miss(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 1)
    with LangGraphAPI(healthy()) as api:
        run(tmp_path, manifest, api.url())
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:  # what the bug left behind: {} cached as r*
        db.execute("UPDATE reasoning SET value = '{}'")
    with LangGraphAPI(healthy()) as api:
        again = run_benchmark(
            manifest, {"t2": TimedFakeChat(responses=["C"])}, tmp_path / "run2", server=api.url(), cache=tmp_path / "cache.sqlite"
        )
        assert len(api.waits()) == 1  # asked again, not read from the poisoned entry
    assert again.counts.samples_failed == 0 and again.counts.reasoning_generated == 1
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        assert json.loads(db.execute("SELECT value FROM reasoning").fetchone()[0])["reasoning_star"]["steps"]


def test_a_reply_over_the_size_limit_is_cut_off_not_read(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 1)
    head = b'{"reasoning_star": {"steps": [{"step": "'
    step = (b"x" * (1 << 20) for _ in range(300))  # a 300 MB step, sent without a Content-Length

    with LangGraphAPI(lambda body: iter([head, *step])) as api:
        result = run(tmp_path, manifest, api.url())
        sent = api.sent
    errors = sample_errors(tmp_path / "run")
    assert result.counts.samples_failed == 1 and f"over {remote.MAX_REPLY_BYTES} bytes" in errors["s0"], errors
    assert sent < 64 << 20  # the client stopped reading: far less than 300 MB left the server
    assert cached(tmp_path) == 0
    declared = b"[" + b" " * (remote.MAX_REPLY_BYTES + 10) + b"]"  # a declared length over the limit
    with LangGraphAPI(lambda body: declared) as api:
        run(tmp_path, manifest, api.url(), retry_failed=True)
    assert "the limit is" in sample_errors(tmp_path / "run")["s0"]


def test_a_server_that_never_finishes_its_reply_meets_the_deadline(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 1)

    def drip(body: dict[str, Any]) -> Iterator[bytes]:
        yield b"{"
        while not api.gate.wait(0.2):  # one byte every 0.2 s until the test ends
            yield b" "

    with LangGraphAPI(drip) as api:
        result = run(tmp_path, manifest, api.url(), context={"run_budget": 1, "request_timeout": 1})
    assert result.counts.samples_failed == 1
    assert "did not finish the reasoning run within 2 s" in sample_errors(tmp_path / "run")["s0"]


def test_keys_and_url_credentials_go_to_the_server_only_when_asked(tmp_path, clip, monkeypatch):
    monkeypatch.setenv("LANGSMITH_API_KEY", LANGSMITH_KEY)
    manifest = write_manifest(tmp_path, clip, 1)
    with LangGraphAPI(healthy()) as api:
        server = api.url(f"bench:{PASSWORD}@")
        run(tmp_path, manifest, server)
        assert api.requests and all("x-api-key" not in h for _, h, _ in api.requests)
        credentialed = "http://user:" + PASSWORD + "@127.0.0.1:9/v1?model=m"
        with pytest.raises(InputError, match="holds credentials, which --server would send") as refused:
            run(tmp_path / "other", manifest, server, context={"generator_model": credentialed})
        assert PASSWORD not in str(refused.value) and len(api.waits()) == 1
    # the URL's credentials are in no file the run wrote, nor in the report
    write_report(tmp_path / "run")
    for path in (tmp_path / "run").iterdir():
        assert PASSWORD.encode() not in path.read_bytes(), path.name
    settings = json.loads((tmp_path / "run" / "run.json").read_text())["settings"]
    assert settings["server"] == api.url("***@")
    monkeypatch.setenv("OPENAI_API_KEY", "not-used")
    with LangGraphAPI(healthy()) as api, openai_server({"tgt": ["C"]}) as (url, _):
        cli = runner.invoke(app, ["bench", "run", str(manifest), "-t", f"{url}?model=tgt", "--out", str(tmp_path / "run3"), "--quiet",
                                  "--cache", str(tmp_path / "other.sqlite"), "--server", api.url(), "--server-send-keys"])  # fmt: skip
        assert cli.exit_code == 0, cli.output
        assert [h.get("x-api-key") for _, h, _ in api.requests] == [LANGSMITH_KEY, LANGSMITH_KEY]  # the check, the run


def test_a_malformed_trajectory_already_stored_does_not_break_the_report(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 2)
    with LangGraphAPI(healthy()) as api:
        run(tmp_path, manifest, api.url())
    bad = {"reasoning_star": {"steps": [{"step": "s", "answer": "a"}]}, "iterations": [{"iteration": 1}], "calls": "oops"}
    with sqlite3.connect(tmp_path / "run" / "store.sqlite") as db:
        db.execute("UPDATE samples SET trajectory = ? WHERE id = 's0'", (json.dumps(bad),))
    written = runner.invoke(app, ["bench", "report", str(tmp_path / "run")])
    assert written.exit_code == 0, written.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["cost"]["samples_with_trajectory"] == 1  # the malformed one is left out, not a crash
