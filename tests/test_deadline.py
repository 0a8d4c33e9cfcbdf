"""Deadlines that hold. A model server on 127.0.0.1 that sends its headers at once and then the
body one byte a second (``drip`` in aurelia.testing.faults) never trips httpx's per-read
timeout; the one deadline per request (connect, headers and body) and the run's budget cut it
off, in process and through the CLI. Each cut request's connection is closed (the server sees
the client hang up while bytes remained), and no thread or socket is left behind. Local models
stop between tokens once the budget is spent."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage

from aurelia.errors import ModelCallError
from aurelia.models.registry import resolve_model
from aurelia.models.retry import CallLimits, DeadlineTransport, current_deadline, deadline_client, deadline_scope
from aurelia.models.structured import call_text
from aurelia.testing.faults import FaultServer, until


@pytest.fixture()
def server():
    before = set(threading.enumerate())
    with FaultServer() as srv:
        yield srv
    # the drip handlers end with the server (or when their client hangs up): none outlives the test
    assert until(lambda: not [t for t in threading.enumerate() if t not in before]), threading.enumerate()


def sockets() -> int:
    """Open sockets of this process (Linux)."""
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:  # closed while listing
            pass
    return count


def test_a_drip_is_cut_by_the_request_timeout_and_its_connection_closed(server, waits):
    server.script("drip", ["drip"])
    rm = resolve_model(server.url("drip"), 0.5, False)
    with pytest.raises(ModelCallError, match="failed after 3 attempts") as info:
        call_text(rm, [HumanMessage("hi")])
    assert "timed out" in str(info.value).lower() and "\n" not in str(info.value)
    assert server.count("drip") == 3 == info.value.attempts
    # each of the 3 responses was cut with most of its body unsent, and its socket closed by the client
    assert until(lambda: len(server.cut_off) == 3), server.cut_off


def test_after_a_cut_drip_the_next_attempt_gets_the_answer(server, waits):
    server.script("drips-once", ["drip", "ok"], "fine")
    result = call_text(resolve_model(server.url("drips-once"), 0.5, False), [HumanMessage("hi")])
    assert result.value == "fine" and result.attempts == 2 and len(waits) == 1


def test_the_run_budget_cuts_a_request_in_flight(server, waits):
    server.script("drip-budget", ["drip"])
    rm = resolve_model(server.url("drip-budget"), 600.0, False)  # the request timeout alone would wait 10 minutes
    limited = replace(rm, limits=CallLimits(deadline=time.monotonic() + 1.0, budget_s=1.0))
    with pytest.raises(ModelCallError, match=r"failed \(.*timed out.*\); the run's time budget of 1s is spent"):
        call_text(limited, [HumanMessage("hi")])
    assert server.count("drip-budget") == 1 and not waits  # cut in flight, not retried
    assert until(lambda: server.cut_off == ["drip-budget"])


def test_a_cut_request_leaves_no_socket_and_no_thread():
    opened = sockets()
    threads = set(threading.enumerate())
    with FaultServer({"leak": ["drip"]}) as srv:
        client = deadline_client(0.3)
        with pytest.raises(httpx.ReadTimeout):
            client.post(srv.url("leak").split("?")[0] + "/chat/completions", json={"model": "leak", "messages": []})
        assert until(lambda: srv.cut_off == ["leak"])
        client.close()
    assert until(lambda: set(threading.enumerate()) <= threads)
    assert until(lambda: sockets() == opened), (sockets(), opened)


def test_deadline_scopes_nest_to_the_sooner():
    assert current_deadline() is None
    with deadline_scope(100.0) as outer:
        assert outer == 100.0
        with deadline_scope(200.0) as inner:
            assert inner == 100.0 == current_deadline()
        with deadline_scope(50.0), deadline_scope(None) as inner:
            assert inner == 50.0
    assert current_deadline() is None
    assert DeadlineTransport(5).timeout == 5


def test_hosted_openai_family_clients_get_the_deadline_transport(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")  # nothing is called: the client is only built
    built = resolve_model("openai:gpt-4o", 7.0, True).model
    assert isinstance(built.http_client._transport, DeadlineTransport) and built.http_client._transport.timeout == 7.0
    ollama = resolve_model("ollama:llama3", 7.0, True).model
    assert isinstance(ollama._client._client._transport, DeadlineTransport)


def cli(clip: Path, url: str, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    cmd = [sys.executable, "-c", "from aurelia.cli import main; main()", "run", str(clip), "-q", "what?", "--max-iterations", "1"]
    start = time.monotonic()
    # the drip would take minutes to send its body: the limit only guards a hang (the assertions are on the cut)
    done = subprocess.run([*cmd, "--generator", url, "--quiet", *extra], capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - start


@pytest.mark.parametrize(
    ("name", "options", "requests", "message"),
    [
        ("cli-timeout", ["--timeout", "2", "--budget", "10"], 3, "failed after 3 attempts"),
        ("cli-budget", ["--timeout", "60", "--budget", "5"], 1, "time budget of 5s is spent"),
    ],
)
def test_a_drip_server_ends_the_cli_run_with_one_line(server, clip, name, options, requests, message):
    server.script(name, ["drip"])
    done, seconds = cli(clip, server.url(name), *options)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1, (done.stdout, done.stderr)
    assert message in lines[0] and "timed out" in lines[0].lower(), lines[0]
    assert server.count(name) == requests
    assert until(lambda: server.cut_off.count(name) == requests), (server.cut_off, seconds)


@pytest.mark.llm
def test_llama_cpp_stops_between_tokens_when_the_budget_is_spent():
    model = resolve_model("local").model.bind(max_tokens=8)
    with deadline_scope(time.monotonic() + 600):  # a deadline far off: the per-token check lets the answer through
        assert model.invoke([HumanMessage("Say hello.")]).content
    with deadline_scope(time.monotonic() - 1), pytest.raises(ModelCallError, match="stopped mid-answer: the run's time budget"):
        model.invoke([HumanMessage("Say hello.")])


@pytest.mark.hf
def test_a_local_hf_model_stops_when_the_budget_is_spent(tmp_path_factory):
    pytest.importorskip("transformers")
    from tiny_hf import tiny_model

    model = resolve_model(f"hf:{tiny_model('text', tmp_path_factory)}").model
    with deadline_scope(time.monotonic() + 600):  # far off: transformers' max_time lets the answer through
        assert isinstance(model.invoke([HumanMessage("Say hello.")]).content, str)
    with deadline_scope(time.monotonic() + 1e-4), pytest.raises(ModelCallError, match="the run's time budget is spent"):
        model.invoke([HumanMessage("Say hello.")])
