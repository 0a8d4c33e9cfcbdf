"""The suite's leak check (tests/leak_check.py) and the test servers it guards: a test that
leaves a thread running or a socket listening fails, naming the test and what it left; a test
server closes with requests in flight, prints nothing and leaves nothing."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from aurelia.testing.faults import FaultServer, LoopbackServer, QuietHandler

INNER = """
import socket, threading, time
import pytest

forever = threading.Event()
kept = []

def test_leaks_a_thread():
    threading.Thread(target=forever.wait, name="leaky-worker", daemon=True).start()

def test_leaks_a_listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    kept.append(s)

def test_clean():
    t = threading.Thread(target=time.sleep, args=(0.01,))
    t.start()
    t.join()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()

def test_a_thread_that_ends_soon_after_is_fine():
    threading.Thread(target=time.sleep, args=(0.05,), name="soon-done").start()

@pytest.fixture(scope="module")
def shared():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="module-server")
    t.start()
    yield
    stop.set()
    t.join()

def test_uses_a_module_fixture(shared):
    pass

def test_uses_it_again(shared):
    pass
"""

LEAKY_MODULE = """
import threading
import pytest

forever = threading.Event()

@pytest.fixture(scope="module")
def never_closed():
    threading.Thread(target=forever.wait, name="module-leak", daemon=True).start()

def test_first(never_closed):
    pass

def test_last(never_closed):
    pass
"""


def run_inner(tmp_path: Path, files: dict[str, str]) -> str:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env_path = str(Path(__file__).parent)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "leak_check", "-p", "no:cacheprovider", "-rA", "-q", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": env_path, "AURELIA_LEAK_GRACE_S": "3"},  # the leaks here are for good
    )
    return proc.stdout + proc.stderr


def outcome(out: str, test: str) -> set[str]:
    return set(re.findall(rf"^(PASSED|FAILED|ERROR) \S*::{test}\b", out, re.M))


def test_the_check_fails_a_test_that_leaves_a_thread_or_a_listening_socket(tmp_path):
    out = run_inner(tmp_path, {"test_inner.py": INNER, "test_module_leak.py": LEAKY_MODULE})
    assert outcome(out, "test_leaks_a_thread") == {"PASSED", "ERROR"}, out  # the test passed; its teardown failed
    assert "test_inner.py::test_leaks_a_thread left behind" in out and "thread 'leaky-worker' (daemon)" in out, out
    assert outcome(out, "test_leaks_a_listening_socket") == {"PASSED", "ERROR"}, out
    assert re.search(r"listening socket 127\.0\.0\.1:\d+ \(appeared in test_inner\.py::test_leaks_a_listening_socket\)", out), out
    for fine in ("test_clean", "test_a_thread_that_ends_soon_after_is_fine", "test_uses_a_module_fixture", "test_uses_it_again"):
        assert outcome(out, fine) == {"PASSED"}, (fine, out)
    # a module fixture's thread that outlives its module fails the module's last test, naming where it appeared
    assert outcome(out, "test_first") == {"PASSED"} and outcome(out, "test_last") == {"PASSED", "ERROR"}, out
    assert "thread 'module-leak' (daemon) (appeared in test_module_leak.py::test_first)" in out, out


class Broken(QuietHandler):
    def do_GET(self) -> None:
        raise ValueError("a bug in a test server")


def test_a_server_closes_with_requests_in_flight_and_leaves_nothing(capfd):
    before = set(threading.enumerate())
    outcomes: list[str] = []

    def call(url: str) -> None:
        request = urllib.request.Request(url, data=b'{"model": "m"}', headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=120).read()
            outcomes.append("answered")
        except (urllib.error.URLError, OSError) as exc:  # cut off by the close
            outcomes.append(type(exc).__name__)

    with FaultServer({"hung": ["hang"], "slow": ["slow:600"]}) as server:
        clients = [threading.Thread(target=call, args=(f"{server.base_url}/v1/chat/completions",)) for _ in range(2)]
        server.script("m", ["hang", "slow:600"])
        for client in clients:
            client.start()
        while server.count("m") < 2:  # both requests are held by their handlers
            threading.Event().wait(0.01)
    # closing released both handlers, cut both connections and joined every server thread
    for client in clients:
        client.join(60)
    assert len(outcomes) == 2 and not any(t.is_alive() for t in clients)
    assert [t for t in threading.enumerate() if t not in before] == []
    with socket.socket() as probe:  # the port is closed
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0

    with LoopbackServer(Broken, "broken") as broken:
        try:
            urllib.request.urlopen(broken.base_url, timeout=60)
        except (urllib.error.URLError, OSError):
            pass
    assert len(broken.errors) == 1 and "a bug in a test server" in broken.errors[0]  # kept for the test,
    assert capfd.readouterr().err == ""  # never printed into whichever test's stderr is live
