"""Durable runs: a thread id and a SQLite checkpointer, so a killed run resumes where it stopped.

Each finished node is checkpointed before the next starts (``durability="sync"``); running the
same thread again continues from the last finished node, so finished agent calls are never
repeated. A thread paused for human review resumes with a decision. The run's settings are
kept beside the checkpoints (table ``aurelia_threads``) so a resumption uses the same τ, T and
models; checkpoints and that table hold references and settings, never media bytes or keys.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from aurelia.errors import InputError
from aurelia.graph.builder import build_graph
from aurelia.graph.context import Context
from aurelia.models.registry import RoleModel
from aurelia.nodes.review import apply_decision
from aurelia.run import OnEvent, check_review, make_context, make_inputs, public_state, run_config, stream_graph

DEFAULT_DB = Path(".aurelia") / "threads.sqlite"
NO_DECISION = object()


@contextmanager
def sqlite_checkpointer(db: str | Path = DEFAULT_DB) -> Iterator[SqliteSaver]:
    """A ``SqliteSaver`` on ``db`` (created with its folder if missing)."""
    path = Path(db).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS aurelia_threads (thread_id TEXT PRIMARY KEY, reasoning_only INTEGER, context TEXT)")
        conn.commit()
        yield SqliteSaver(conn)
    finally:
        conn.close()


def _saved_settings(saver: SqliteSaver, thread_id: str) -> tuple[bool, dict[str, Any]] | None:
    row = saver.conn.execute("SELECT reasoning_only, context FROM aurelia_threads WHERE thread_id = ?", (thread_id,)).fetchone()
    return None if row is None else (bool(row[0]), json.loads(row[1]))


def _save_settings(saver: SqliteSaver, thread_id: str, reasoning_only: bool, ctx: Context) -> None:
    saver.conn.execute("INSERT OR REPLACE INTO aurelia_threads VALUES (?, ?, ?)", (thread_id, int(reasoning_only), json.dumps(asdict(ctx))))
    saver.conn.commit()


def thread_status(graph: Any, config: Mapping[str, Any]) -> str:
    """'new', 'interrupted' (killed or failed mid-run), 'review' (waiting for a human) or 'done'."""
    snapshot = graph.get_state(config)
    if not snapshot.values and not snapshot.next:
        return "new"
    if snapshot.interrupts:
        return "review"
    return "interrupted" if snapshot.next else "done"


def _check_same_input(values: Mapping[str, Any], given: Mapping[str, Any], thread_id: str) -> None:
    """A rerun of a thread may repeat its input or leave it out, never change it silently."""
    for key, value in given.items():
        if value is not None and value != values.get(key):
            raise InputError(f"thread {thread_id!r} holds a run with another {key} ({values.get(key)!r}); use a new --thread")


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
    with the settings it started with (``settings`` that contradict them are refused). A thread
    waiting for review returns its review request until ``decision`` is given. A finished one
    returns its stored result without calling any model. ``reasoning_only=None`` means: as the
    thread was started (a new thread: False). ``on_event`` sees the run as it goes, as for
    :func:`aurelia.run.run`.
    """
    if not thread_id or not thread_id.strip():
        raise InputError("the thread id is empty")
    explicit = {k: v for k, v in dict(settings or {}).items() if v is not None}
    with sqlite_checkpointer(db) as saver:
        saved = _saved_settings(saver, thread_id)
        if saved is not None:
            if reasoning_only is not None and reasoning_only != bool(saved[0]):
                raise InputError(f"thread {thread_id!r} was started with reasoning_only={bool(saved[0])}; use a new --thread to change")
            reasoning_only, stored = saved
            clash = {k: v for k, v in explicit.items() if k in stored and stored[k] != v}
            if clash:
                raise InputError(
                    f"thread {thread_id!r} was started with {', '.join(f'{k}={stored[k]!r}' for k in clash)}; use a new --thread to change"
                )
            ctx = make_context(stored)
        else:
            reasoning_only = bool(reasoning_only)
            ctx = make_context(None, **explicit)
            check_review(ctx, reasoning_only)
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
            given = {k: v for k, v in given.items() if k != "sample_id" and v not in ("", None)}
            _check_same_input(snapshot.values, given, thread_id)
            if decision is not NO_DECISION and status != "review":
                raise InputError(f"thread {thread_id!r} is not waiting for a review (it is {status})")
            if status in ("done", "review") and decision is NO_DECISION:
                # nothing to run: the stored result, or the pending review request
                result = {**public_state(snapshot.values), "node_seconds": {}, "total_seconds": 0.0, "context": asdict(ctx)}
                if status == "review":
                    result["interrupt"] = snapshot.interrupts[0].value
                return {**result, "thread": {"id": thread_id, "status": status, "resumed_from": status}}
            if status == "review":
                apply_decision(decision, snapshot.values.get("reasoning_star") or {})  # refuse a bad edit before resuming
            inputs = Command(resume=decision) if status == "review" else None
        result = stream_graph(graph, inputs, ctx, config, durability="sync", on_event=on_event, models=models)
        after = thread_status(graph, config)
        result["thread"] = {"id": thread_id, "status": after, "resumed_from": status}
        return result
