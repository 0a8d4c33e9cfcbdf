"""Crash drills for durable runs, for the fault tests and ``benchmarks/crash_resume.py``.

:class:`ScriptedAgents` is an OpenAI-compatible chat server on 127.0.0.1 whose agents reply as a
pure function of their role and prompt text, so a run that repeats a call after a crash gets the
very reply an uninterrupted run got. It can SIGKILL the client process at a planned point: while
the k-th request of a launch is in flight, or a moment after its reply went out (when the run is
parsing it, writing a checkpoint, or already in the next node). :func:`crash_drill` launches a
command, kills it so N times at random points drawn from a seed, and runs it once more to the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from pydantic import Field

import aurelia
from aurelia.testing.faults import LoopbackServer, QuietHandler, completion_json, prompt_text, send_json

ROLES = ("generator", "summarizer", "evaluator", "target")
KILL_WAIT_S = 60.0  # a request after the kill point waits this long at most for the kill
Reply = Callable[[str, str], str]


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


ROUND = re.compile(r"\(round (\d+)\)")
UNREADABLE = "I cannot tell from this."


def _round(prompt: str) -> int:
    return max((int(n) for n in ROUND.findall(prompt)), default=0)


def scripted_reply(role: str, prompt: str) -> str:
    """What each agent says to ``prompt``: the same text for the same prompt, in every process.

    The generator numbers its reasoning "(round N)", one more than the previous reasoning its
    feedback quotes; the summarizer and the evaluator read the round from what they are shown.
    The evaluator's script: round 1 first answers 12/10 (out of range: re-asked) then 4; round 2
    scores 5; round 3 never gives a score (repair and re-ask fail: unscored); later rounds score
    from a hash of the prompt. The target answers a letter from a hash of its prompt."""
    h = _hash(prompt)
    if role == "generator":
        n = _round(prompt) + 1
        steps = [
            {"step": f"Watch the screen colour (round {n})", "answer": "it ends green"},
            {"step": "Listen to the end", "answer": "silent"},
        ]
        return json.dumps({"steps": steps, "final_answer": "green"})
    if role == "summarizer":
        return f"The screen turns green and the sound stops (round {_round(prompt)})."
    if role == "evaluator":
        n, reasked = _round(prompt), "cannot be used" in prompt
        if n == 1:
            return '{"score": 4, "rationale": "half right"}' if reasked else "Score: 12/10"
        if n == 2:
            return '{"score": 5, "rationale": "closer"}'
        return UNREADABLE if n == 3 else json.dumps({"score": 1 + h % 8, "rationale": f"partly ({h:08x})"})
    return "ABC"[h % 3]  # the target: a letter


class ScriptedChat(FakeListChatModel):
    """The same script as a LangChain fake chat model, for runs in this process."""

    role: str
    responses: list[str] = Field(default_factory=list)  # unused: replies come from the script

    def _call(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        return scripted_reply(self.role, "\n".join(str(m.text) for m in messages))


def scripted_models() -> dict[str, ScriptedChat]:
    return {role: ScriptedChat(role=role) for role in ROLES}


@dataclass(frozen=True)
class Kill:
    """Kill the client at its ``at``-th request of a launch: ``during`` it (no reply is sent) or
    ``delay`` seconds ``after`` the reply went out."""

    at: int
    when: str  # "during" | "after"
    delay: float = 0.0


class ScriptedAgents(LoopbackServer):
    """OpenAI-compatible chat completions on 127.0.0.1; the ``?model=`` of the URL names the role.

    Once a launch's kill point is reached, its later requests get no reply: a kill "after" the
    k-th request lands before the (k+1)-th is answered, so a launch never gets more than k replies."""

    def __init__(self, reply: Reply = scripted_reply) -> None:
        super().__init__(_Handler, "scripted-agents")
        self.reply = reply
        self.lock = threading.Lock()
        self.requests: list[str] = []  # the role of every request, all launches together
        self.launch_requests = 0
        self.kill: Kill | None = None
        self.victim: int | None = None
        self.killed = threading.Event()

    def url(self, role: str) -> str:
        return f"{self.base_url}/v1?model={role}"

    def role_options(self) -> list[str]:
        return [arg for role in ROLES for arg in (f"--{role}", self.url(role))]

    def arm(self, pid: int | None, kill: Kill | None) -> None:
        """The next launch: its process id and where to kill it (None: let it run)."""
        with self.lock:
            self.victim, self.kill, self.launch_requests = pid, kill, 0
            self.killed.clear()

    def _next(self, role: str) -> tuple[Kill | None, bool]:
        """This request's kill (if it is the kill point) and whether the launch is past it."""
        with self.lock:
            self.requests.append(role)
            self.launch_requests += 1
            if self.kill is None:
                return None, False
            return (self.kill if self.kill.at == self.launch_requests else None), self.launch_requests > self.kill.at

    def _kill(self) -> None:
        if self.victim is not None:
            try:
                os.kill(self.victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.killed.set()


class _Handler(QuietHandler):
    server: ScriptedAgents

    def do_POST(self) -> None:  # the http.server hook
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        role = str(body.get("model", ""))
        kill, past = self.server._next(role)
        if past:  # the launch is being killed: no reply, so it makes no progress past its kill point
            self.server.hold(self.server.killed, KILL_WAIT_S)
            return
        if kill and kill.when == "during":
            self.server._kill()
            return
        send_json(self, 200, completion_json(role, self.server.reply(role, prompt_text(body))))
        if kill:
            self.server.pause(kill.delay)
            self.server._kill()


@dataclass
class Drill:
    """What a drill did: the seed, each kill that landed, the requests per launch, and the last
    launch's stdout (the finished run)."""

    seed: int
    kills: list[Kill] = field(default_factory=list)
    requests_per_launch: list[int] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


def draw_kills(seed: int, n: int, max_at: int = 5, max_delay: float = 0.05) -> list[Kill]:
    """``n`` kill points from ``seed``: a request number, during or after it, and a delay."""
    rng = random.Random(seed)
    return [Kill(rng.randint(1, max_at), rng.choice(("during", "after")), round(rng.uniform(0, max_delay), 3)) for _ in range(n)]


def crash_drill(
    command: Sequence[str],
    agents: ScriptedAgents,
    kills: Sequence[Kill],
    *,
    seed: int,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    unfinished: Callable[[], bool] | None = None,
) -> Drill:
    """Run ``command`` once per kill point, SIGKILLing it there, then once more to its end.

    A launch that finishes before its kill point ends the drill early (the run is done). Raises
    AssertionError, with the seed, when a launch fails otherwise, or when ``unfinished`` (read
    once the killed process is gone) says a kill landed after the run had finished its work: such
    a kill proves nothing."""
    drill = Drill(seed)
    for kill in [*kills, None]:
        proc = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        agents.arm(proc.pid, kill)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"seed {seed}: launch {len(drill.requests_per_launch) + 1} hung past {timeout}s") from None
        drill.requests_per_launch.append(agents.launch_requests)
        if proc.returncode == -signal.SIGKILL and kill is not None:
            if unfinished is not None and not unfinished():
                raise AssertionError(f"seed {seed}: kill {kill} of launch {len(drill.requests_per_launch)} landed after the run was done")
            drill.kills.append(kill)
            continue
        if proc.returncode != 0:
            raise AssertionError(f"seed {seed}: launch {len(drill.requests_per_launch)} exited {proc.returncode}: {err[-2000:]}")
        drill.stdout, drill.stderr = out, err
        break
    return drill


# --- checking a drill's outcome ----------------------------------------------------------------


def cli_command(*args: str) -> list[str]:
    """``aurelia ARGS`` as a process of this Python, importing this checkout's package."""
    return [sys.executable, "-c", "from aurelia.cli import main; main()", *args]


def child_env() -> dict[str, str]:
    """The environment for a CLI process that talks to the local server only (no key, no proxy, no tracing)."""
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "AURELIA_DEBUG"}}
    local = "127.0.0.1,localhost"
    root = str(Path(aurelia.__file__).parents[1])
    return env | {"PYTHONPATH": root, "NO_PROXY": local, "no_proxy": local, "LANGSMITH_TRACING": "false"}


def untimed(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without its timings and token counts (they differ from run to run)."""
    return {k: v for k, v in record.items() if k not in ("seconds", "usage", "timing")}


def comparable(result: Mapping[str, Any]) -> dict[str, Any]:
    """What a crash must not change in a run's result: everything but timings and token counts."""
    its = [untimed(it) for it in result["iterations"]]
    calls = [untimed(c) for c in result["calls"]]
    target = untimed(result.get("target") or {})
    keep = ("best_iteration", "stop_reason", "reasoning_star", "answer", "answer_choice")
    return {"iterations": its, "calls": calls, "target": target, **{k: result.get(k) for k in keep}}


def integrity(db: str | Path) -> str:
    """SQLite's ``PRAGMA integrity_check`` of the store: "ok", or what is wrong."""
    conn = sqlite3.connect(db)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def checkpoint_iterations(db: str | Path, thread: str) -> list[list[dict[str, Any]]]:
    """The iterations (untimed) that each checkpoint of ``thread`` holds, oldest first."""
    from aurelia.durable import sqlite_checkpointer

    with sqlite_checkpointer(db) as saver:
        history = list(saver.list({"configurable": {"thread_id": thread}}))
    return [[untimed(it) for it in c.checkpoint["channel_values"].get("iterations", [])] for c in reversed(history)]


def stranded(db: str | Path, thread: str) -> bool:
    """The thread's last checkpoint has tasks that finished (their writes are stored) but the
    checkpoint after them was never written: what a kill between the two leaves. LangGraph's
    snapshot then lists the tasks but no ``next``."""
    from aurelia.durable import sqlite_checkpointer
    from aurelia.graph.builder import build_graph

    with sqlite_checkpointer(db) as saver:
        snapshot = build_graph(checkpointer=saver).get_state({"configurable": {"thread_id": thread}})
    return bool(snapshot.tasks) and not snapshot.next and not snapshot.interrupts


def thread_done(db: str | Path, thread: str) -> bool:
    """The thread's run has finished (its last checkpoint has no work left): read between
    launches, it tells whether a kill landed while work remained."""
    if not Path(db).exists():
        return False
    from aurelia.durable import sqlite_checkpointer, thread_status
    from aurelia.graph.builder import build_graph

    with sqlite_checkpointer(db) as saver:
        return thread_status(build_graph(checkpointer=saver), {"configurable": {"thread_id": thread}}) == "done"
