"""Durable runs: a thread id and a SQLite checkpointer, so a killed run resumes where it stopped.

Each finished node is checkpointed before the next starts (``durability="sync"``); running the
same thread again continues from the last finished node, so finished agent calls are never
repeated. A thread paused for human review resumes with a decision. The run's settings are
kept beside the checkpoints (table ``aurelia_threads``) so a resumption uses the same τ, T and
models; checkpoints and that table hold references and settings, never media bytes or keys. A
model URL's credentials are stored as ``***``: a resumption is given the model string again.

One process at a time runs a thread: an OS lock on a file beside the database (released when
the process ends, however it ends) refuses a second one with :class:`ThreadBusyError`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from aurelia.errors import InputError, StoreError, ThreadBusyError
from aurelia.files import LockHeld, pid_lock
from aurelia.graph.builder import build_graph
from aurelia.graph.context import Context, make_context
from aurelia.models.registry import RoleModel
from aurelia.nodes.common import ROLES
from aurelia.nodes.review import apply_decision
from aurelia.redact import MASK, redact_url
from aurelia.run import OnEvent, check_review, make_inputs, public_context, public_state, run_config, stream_graph

DEFAULT_DB = Path(".aurelia") / "threads.sqlite"
NO_DECISION = object()


def _open_db(path: Path) -> sqlite3.Connection:
    """The thread database, created with its folder if missing; a path that cannot hold one is
    an InputError naming it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise InputError(f"cannot use this path for the thread database ({getattr(exc, 'strerror', None) or exc})", path=str(path)) from exc
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS aurelia_threads (thread_id TEXT PRIMARY KEY, reasoning_only INTEGER, context TEXT)")
        conn.commit()
    except sqlite3.Error as exc:
        conn.close()
        raise InputError(f"cannot use this file as the thread database ({exc})", path=str(path)) from exc
    return conn


@contextmanager
def store_errors(db: str | Path) -> Iterator[None]:
    """SQLite and file-system failures of the thread store (locked, read-only, disk full) become
    a StoreError naming it; every node finished before stays checkpointed."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"the thread store failed ({exc}); finished nodes are kept, rerun to resume", path=str(db)) from exc


@contextmanager
def sqlite_checkpointer(db: str | Path = DEFAULT_DB) -> Iterator[SqliteSaver]:
    """A ``SqliteSaver`` on ``db`` (created with its folder if missing)."""
    conn = _open_db(Path(db).expanduser())
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


@contextmanager
def thread_lock(db: str | Path, thread_id: str) -> Iterator[None]:
    """Hold ``thread_id`` of ``db`` for this run: an exclusive lock on a file in the
    ``<db>.locks`` folder (:func:`aurelia.files.pid_lock`). The OS drops it when the process
    ends, even on SIGKILL."""
    path = Path(db).expanduser()
    lock_file = path.with_name(path.name + ".locks") / (hashlib.sha256(thread_id.encode()).hexdigest()[:32] + ".lock")
    try:
        lock = pid_lock(lock_file)
    except LockHeld as held:
        raise ThreadBusyError(
            f"thread {thread_id!r} is in use by another run (pid {held.holder}); wait for it to end, or use another --thread"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot create the thread lock ({exc.strerror or exc})", path=str(lock_file)) from exc
    try:
        yield
    finally:
        lock.release()


MODEL_FIELDS = tuple(f"{role}_model" for role in ROLES)
OPERATIONAL = ("request_timeout", "run_budget")  # how long to wait, not what to compute: a resumption may change them


def _saved_settings(saver: SqliteSaver, thread_id: str) -> tuple[bool, dict[str, Any]] | None:
    row = saver.conn.execute("SELECT reasoning_only, context FROM aurelia_threads WHERE thread_id = ?", (thread_id,)).fetchone()
    return None if row is None else (bool(row[0]), json.loads(row[1]))


def _save_settings(saver: SqliteSaver, thread_id: str, reasoning_only: bool, ctx: Context) -> None:
    stored = json.dumps(public_context(ctx))  # model URLs without their credentials
    saver.conn.execute("INSERT OR REPLACE INTO aurelia_threads VALUES (?, ?, ?)", (thread_id, int(reasoning_only), stored))
    saver.conn.commit()


def _restore_credentials(stored: dict[str, Any], explicit: dict[str, Any], thread_id: str) -> dict[str, Any]:
    """The stored settings with each redacted model URL replaced by the same URL, credentials
    included, given again now; one not given again is an InputError saying how to give it."""
    restored = dict(stored)
    for name in MODEL_FIELDS:
        value = stored.get(name)
        if not isinstance(value, str) or MASK not in value:
            continue
        given = explicit.get(name)
        if not isinstance(given, str) or redact_url(given) != value:
            role = name.removesuffix("_model")
            raise InputError(
                f"thread {thread_id!r} was started with {name} {value!r}, whose credentials are never stored: "
                f"give that model string again (CLI: --model {role}=URL; Python: settings={{{name!r}: ...}})"
            )
        restored[name] = given
    return restored


def thread_status(graph: Any, config: Mapping[str, Any]) -> str:
    """'new', 'interrupted' (killed or failed mid-run), 'review' (waiting for a human) or 'done'."""
    snapshot = graph.get_state(config)
    if not snapshot.values and not snapshot.next:
        return "new"
    if snapshot.interrupts:
        return "review"
    # a node's writes stored but the next checkpoint not yet (a kill or a full disk between them):
    # ``next`` is empty while ``tasks`` still lists the work to finish, so it is not done
    return "interrupted" if snapshot.next or snapshot.tasks else "done"


def _check_same_input(values: Mapping[str, Any], given: Mapping[str, Any], thread_id: str) -> None:
    """A rerun of a thread may repeat its input or leave it out, never change it silently."""
    for key, value in given.items():
        if value is not None and value != values.get(key):
            raise InputError(f"thread {thread_id!r} holds a run with another {key} ({values.get(key)!r}); use a new --thread")


def _check_thread_id(thread_id: Any) -> None:
    if not isinstance(thread_id, str) or not thread_id.strip():
        raise InputError("the thread id is empty")
    if len(thread_id) > 200 or any(ord(ch) < 32 for ch in thread_id):
        raise InputError("a thread id is at most 200 printable characters")


def _thread_settings(saver: SqliteSaver, thread_id: str, explicit: dict[str, Any], reasoning_only: bool | None) -> tuple[bool, Context]:
    """The thread's reasoning_only and settings: as it was started (``explicit`` may only repeat
    them, or change the operational ones), or, for a new thread, from ``explicit``."""
    given = make_context(None, **explicit)  # an unknown or mistyped setting is refused the same way everywhere
    saved = _saved_settings(saver, thread_id)
    if saved is None:
        check_review(given, bool(reasoning_only))
        return bool(reasoning_only), given
    if reasoning_only is not None and reasoning_only != bool(saved[0]):
        raise InputError(f"thread {thread_id!r} was started with reasoning_only={bool(saved[0])}; use a new --thread to change")
    stored = saved[1]
    clash = {
        k: v
        for k, v in explicit.items()
        if k in stored and k not in OPERATIONAL and stored[k] != (redact_url(v) if k in MODEL_FIELDS else v)
    }
    if clash:
        raise InputError(
            f"thread {thread_id!r} was started with {', '.join(f'{k}={stored[k]!r}' for k in clash)}; use a new --thread to change"
        )
    ctx = make_context(_restore_credentials(stored, explicit, thread_id), **{k: explicit.get(k) for k in OPERATIONAL})
    return bool(saved[0]), ctx


def _stored_result(snapshot: Any, ctx: Context, thread_id: str, status: str) -> dict[str, Any]:
    """A finished thread's result, or its pending review request: nothing to run."""
    result = {**public_state(snapshot.values), "node_seconds": {}, "total_seconds": 0.0, "context": public_context(ctx)}
    if status == "review":
        result["interrupt"] = snapshot.interrupts[0].value
    return {**result, "thread": {"id": thread_id, "status": status, "resumed_from": status}}


def _check_resumption(snapshot: Any, given: dict[str, Any], status: str, thread_id: str, decision: Any) -> None:
    """The input given again must be the thread's own; a decision needs a pending review."""
    _check_same_input(snapshot.values, {k: v for k, v in given.items() if k != "sample_id" and v not in ("", None)}, thread_id)
    if decision is not NO_DECISION and status != "review":
        raise InputError(f"thread {thread_id!r} is not waiting for a review (it is {status})")


def _resume_value(snapshot: Any, status: str, decision: Any) -> Any:
    """What to stream to continue: the review decision (a bad edit refused before resuming), or
    None (from the last checkpoint)."""
    if status != "review":
        return None
    apply_decision(decision, snapshot.values.get("reasoning_star") or {})
    return Command(resume=decision)


def run_thread(
    video: str | Path | None,
    question: str | None,
    *,
    thread_id: str,
    db: str | Path = DEFAULT_DB,
    audio: str | Path | None = None,
    choices: list[str] | None = None,
    settings: Mapping[str, Any] | None = None,
    models: Mapping[str, BaseChatModel | RoleModel] | None = None,
    reasoning_only: bool | None = None,
    sample_id: str | None = None,
    decision: Any = NO_DECISION,
    audio_candidates: list[str | Path] | None = None,
    on_event: OnEvent | None = None,
) -> dict[str, Any]:
    """Start, resume or finish the run of ``thread_id``; returns the result (with ``thread``).

    A new thread starts from the input. An interrupted one continues from its last checkpoint
    with the settings it started with (``settings`` that contradict them are refused, except the
    request timeout and the run budget; a model URL's credentials are given again). A thread
    waiting for review returns its review request until ``decision`` is given. A finished one
    returns its stored result without calling any model. ``reasoning_only=None`` means: as the
    thread was started (a new thread: False). ``on_event`` sees the run as it goes, as for
    :func:`aurelia.run.run`. ``settings`` are built as everywhere (:func:`~aurelia.graph.context.make_context`).
    """
    _check_thread_id(thread_id)
    if settings is not None and not isinstance(settings, Mapping):
        raise InputError(f"settings must be a mapping of setting names to values, got {type(settings).__name__}")
    explicit = {k: v for k, v in dict(settings or {}).items() if v is not None}
    with store_errors(db), sqlite_checkpointer(db) as saver, thread_lock(db, thread_id):
        reasoning_only, ctx = _thread_settings(saver, thread_id, explicit, reasoning_only)
        graph = build_graph(models=models, reasoning_only=reasoning_only, checkpointer=saver)
        config = run_config(sample_id, thread_id=thread_id)
        status = thread_status(graph, config)
        if status == "new":
            if video is None or question is None:
                raise InputError(f"thread {thread_id!r} does not exist yet: give a video and a question to start it")
            _save_settings(saver, thread_id, reasoning_only, ctx)
            inputs: Any = make_inputs(video, question, audio, choices, sample_id, audio_candidates)
        else:
            snapshot = graph.get_state(config)
            given = make_inputs(video or "", question or "", audio, choices, None, audio_candidates)
            _check_resumption(snapshot, given, status, thread_id, decision)
            if status in ("done", "review") and decision is NO_DECISION:
                return _stored_result(snapshot, ctx, thread_id, status)  # nothing to run
            inputs = _resume_value(snapshot, status, decision)
        result = stream_graph(graph, inputs, ctx, config, durability="sync", on_event=on_event, models=models)
        result["thread"] = {"id": thread_id, "status": thread_status(graph, config), "resumed_from": status}
        return result
