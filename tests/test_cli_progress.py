"""Live progress: ``aurelia run`` as a real process shows each iteration on stderr while the run
goes on, on a terminal (a pseudo-terminal here) and through a pipe; ``--json`` stays clean.

The agents are a small OpenAI-compatible server on 127.0.0.1 that takes a moment per call. It
holds back the next call until the test has *read* the previous iteration's line on stderr, so
a line that only came at the end would leave the gate to open on its deadline, and the test fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from fakes import REASONING_JSON, fake
from typer.testing import CliRunner

import aurelia
from aurelia.cli import app
from aurelia.cli.progress import Progress, describe
from aurelia.durable import run_thread
from aurelia.run import run
from aurelia.testing.faults import LoopbackServer, QuietHandler, completion_json, read_json, send_json

CAPTION = "Red [/INST] then [bold]blue[/bold], then green and silent"  # not rich markup: printed as is
SCORES = ('{"score": 3, "rationale": "misses the beeps"}', '{"score": 8, "rationale": "matches"}')
DEADLINE = 30.0  # a gate opens on its own after this: the run then ends, and the test fails
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Agents(LoopbackServer):
    """OpenAI-compatible chat completions; the model name in the URL says which role calls. Its
    gates are held through the server, so closing it at the test's end releases them."""

    def __init__(self) -> None:
        super().__init__(Reply, "progress-agents")
        self.calls: Counter[str] = Counter()
        self.seen: dict[str, threading.Event] = {}
        self.gates: list[tuple[str, bool]] = []
        self.gated = True  # False: answer at once, whatever the test has read
        self.hang = threading.Event()  # set: the 2nd generator call never answers (until release)
        self.release = threading.Event()

    def url(self, role: str) -> str:
        return f"{self.base_url}/v1?model={role}"

    def roles(self) -> list[str]:
        return [arg for role in ("generator", "summarizer", "evaluator", "target") for arg in (f"--{role}", self.url(role))]

    def gate(self, needle: str) -> None:
        """Answer only once the test has read ``needle`` on the command's stderr."""
        if not self.gated:
            return
        self.gates.append((needle, self.hold(self.seen.setdefault(needle, threading.Event()), DEADLINE)))

    def reply(self, role: str) -> str:
        self.calls[role] += 1
        n = self.calls[role]
        self.pause(0.1)  # an agent takes a moment
        if role == "generator" and n == 2:
            if self.hang.is_set():
                self.hold(self.release, DEADLINE)
            self.gate("#1 score 3/10")
        if role == "target":
            self.gate("stop: threshold, best iteration 2")
        return {"generator": REASONING_JSON, "summarizer": CAPTION, "evaluator": SCORES[min(n, 2) - 1], "target": "B"}[role]


class Reply(QuietHandler):
    server: Agents

    def do_POST(self) -> None:
        body = read_json(self)
        send_json(self, 200, completion_json(body["model"], self.server.reply(body["model"])))


class Started:
    """What a test started, ended at its teardown even when it failed half-way: commands first,
    then the threads reading them, then their terminals."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.watches: list[Watch] = []
        self.fds: list[int] = []

    def end(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for watch in self.watches:
            watch.thread.join(DEADLINE)
        for proc in self.procs:
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for fd in self.fds:
            os.close(fd)
        self.procs, self.watches, self.fds = [], [], []  # ended once


@pytest.fixture()
def started():
    yield (done := Started())
    done.end()


@pytest.fixture()
def agents(started):
    with Agents() as server:
        yield server
        started.end()  # a command a failed test left running ends before its server does


class Watch:
    """Reads a stream as the command writes it and tells the server each needle it has seen."""

    def __init__(self, agents: Agents, read) -> None:
        self.agents, self.read, self.raw = agents, read, b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while chunk := self.read():
            self.raw += chunk
            plain = ANSI.sub("", self.raw.decode("utf-8", "replace"))
            for needle in ("#1 score 3/10", "stop: threshold, best iteration 2"):
                if needle in plain:
                    self.agents.seen.setdefault(needle, threading.Event()).set()

    def plain(self) -> str:
        self.thread.join(DEADLINE)
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))


def command(agents: Agents, clip: Path, *extra: str) -> list[str]:
    question = ["-q", "What colour is the screen when the audio is silent?", "-c", "red", "-c", "green"]
    return [sys.executable, "-c", "from aurelia.cli import main; main()", "run", str(clip), *question, *agents.roles(), *extra]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLUMNS"}}
    root = str(Path(aurelia.__file__).parents[1])  # this checkout's package, not an installed one
    env.update(PYTHONPATH=root, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", LANGSMITH_TRACING="false", **extra)
    return env


def read_all(fd: int):
    def read() -> bytes:
        try:
            return os.read(fd, 4096)
        except OSError:  # EIO: the command closed the terminal
            return b""

    return read


def test_iterations_stream_through_a_pipe_and_json_stays_clean(agents, started, clip):
    proc = subprocess.Popen(command(agents, clip, "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment())
    started.procs.append(proc)
    watch = Watch(agents, proc.stderr.readline)
    started.watches.append(watch)
    stdout = proc.stdout.read()  # stderr is the watcher's alone
    proc.wait(DEADLINE)
    err = watch.plain()
    assert proc.returncode == 0, err
    # each gate opened because the line had been read, not on its deadline
    assert agents.gates == [("#1 score 3/10", True), ("stop: threshold, best iteration 2", True)], err
    # one timestamped line per finished node and per iteration, model text literal
    url = agents.url
    expected = [
        "prepare done in <s>",
        *(f"#1 {role} ({url(role)}) done in <s>" for role in ("generator", "summarizer", "evaluator")),
        f"#1 score 3/10 in <s>: {CAPTION}",
        "#2 feedback done in <s>",
        *(f"#2 {role} ({url(role)}) done in <s>" for role in ("generator", "summarizer", "evaluator")),
        f"#2 score 8/10 in <s>: {CAPTION}",
        "stop: threshold, best iteration 2",
        f"target ({url('target')}) done in <s>",
    ]
    lines = err.splitlines()
    assert len(lines) == len(expected), err
    for line, want in zip(lines, expected, strict=True):
        assert re.fullmatch(r"\d\d:\d\d:\d\d " + re.escape(want).replace("<s>", r"\d+\.\ds"), line), (line, want)
    # --json: stdout is the result alone, with the fields the Python API returns
    data = json.loads(stdout)
    assert [it["score"] for it in data["iterations"]] == [3, 8] and data["answer_choice"] == "B"
    models = {"generator": fake(REASONING_JSON), "summarizer": fake(CAPTION), "evaluator": fake(*SCORES), "target": fake("B")}
    assert set(data) == set(run(clip, "What colour?", choices=["red", "green"], models=models))


def test_iterations_stream_on_a_terminal(agents, started, clip):
    main, child = pty.openpty()
    started.fds.append(main)  # closed at teardown, once its reader is done
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    proc = subprocess.Popen(
        command(agents, clip, "--json"), stdout=subprocess.PIPE, stderr=child, stdin=subprocess.DEVNULL, env=environment(TERM="xterm")
    )
    started.procs.append(proc)
    os.close(child)
    watch = Watch(agents, read_all(main))
    started.watches.append(watch)
    stdout = proc.stdout.read()
    proc.wait(DEADLINE)
    err = watch.plain()
    assert proc.returncode == 0, err
    assert agents.gates == [("#1 score 3/10", True), ("stop: threshold, best iteration 2", True)], err
    # the spinner named each node, its model and the time so far; scored iterations stayed, literal
    assert re.search(re.escape(f"#2 summarizer ({agents.url('summarizer')})") + r"  \d+\.\ds", err), err
    assert "#1 score 3/10 in" in err and f"{CAPTION}\n" in err
    assert err.index("#1 score 3/10") < err.index("#2 score 8/10") < err.index("stop: threshold, best iteration 2")
    assert json.loads(stdout)["best_iteration"] == 2  # stdout holds the result alone


def test_ctrl_c_stops_with_one_line_that_says_how_to_resume(agents, started, clip, tmp_path):
    agents.hang.set()  # the second generator call does not come back
    db = tmp_path / "threads.sqlite"
    proc = subprocess.Popen(
        command(agents, clip, "--thread", "t1", "--db", str(db)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment()
    )
    started.procs.append(proc)
    lines: list[str] = []
    while not lines or "#2 feedback done in" not in lines[-1]:
        lines.append(proc.stderr.readline().decode())
        assert lines[-1], "".join(lines)
    deadline = time.monotonic() + DEADLINE
    while agents.calls["generator"] < 2 and time.monotonic() < deadline:  # the call is on the wire
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 130, rest.decode()
    assert rest.decode().splitlines() == [f"interrupted: thread t1 keeps every finished node; continue with: aurelia resume t1 --db {db}"]
    assert out == b""
    # the thread kept iteration 1: resuming runs iteration 2 only
    models = {"generator": fake(REASONING_JSON), "summarizer": fake(CAPTION), "evaluator": fake(SCORES[1]), "target": fake("B")}
    result = run_thread(None, None, thread_id="t1", db=db, models=models)
    assert result["thread"]["resumed_from"] == "interrupted" and [it["score"] for it in result["iterations"]] == [3, 8]


def test_quiet_shows_nothing_and_answer_shows_its_phases(agents, clip):
    agents.gated = False
    runner = CliRunner()
    question = ["-q", "What colour?", "-c", "red", "-c", "green"]
    quiet = runner.invoke(app, ["run", str(clip), *question, *agents.roles(), "--max-iterations", "1", "--json", "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and json.loads(quiet.stdout)["stop_reason"] == "max_iterations"
    answer = runner.invoke(app, ["answer", str(clip), *question, "--target", agents.url("target")])
    assert answer.exit_code == 0, answer.output
    phases = [re.sub(r"in \d+\.\ds$", "in <s>", line[9:]) for line in answer.stderr.splitlines()]
    assert phases == [f"prepare media of {clip.name} done in <s>", f"load {agents.url('target')} done in <s>", "generate done in <s>"]
    assert "answer: (B) green" in answer.stdout
    assert runner.invoke(app, ["answer", str(clip), *question, "--target", agents.url("target"), "--quiet"]).stderr == ""


def test_events_render_literally(capsys):
    from rich.console import Console

    progress = Progress(Console(stderr=True, force_terminal=False))
    progress({"event": "node", "node": "summarizer", "model": "m[/x]", "iteration": 2})  # the spinner's: no line here
    progress({"event": "done", "node": "summarizer", "model": "m[/x]", "iteration": 2, "seconds": 0.04})
    progress({"event": "iteration", "iteration": 2, "score": 7, "seconds": 1.31, "caption": "[/INST] " + "x" * 200, "stop_reason": None})
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith(" #2 summarizer (m[/x]) done in 0.0s") and err[1].endswith(" #2 score 7/10 in 1.3s: [/INST] " + "x" * 71 + "…")
    assert describe({"event": "stop", "stop_reason": "baseline", "best_iteration": None}).startswith("stop: baseline")


@pytest.mark.parametrize("name", [["run"], ["resume"], ["demo"], ["answer"], ["media", "digest"], []])
def test_help_lists_flags_as_flags_and_each_default_once(name):
    out = CliRunner().invoke(app, [*name, "--help"], env={"COLUMNS": "250"}).output
    assert "<bool>" not in out, out
    rows = [line for line in out.splitlines() if re.match(r"^│\s+(\*\s+)?--", line)]
    assert rows and all(not ("(default" in row and "[default:" in row) for row in rows), out
    flags = [row for row in rows if re.search(r"--(json|quiet|help|review|reasoning-only|approve|fast)\s", row)]
    assert flags and all("<" not in row for row in flags), out
