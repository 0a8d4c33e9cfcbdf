"""SQLite in WAL mode, shared by the reasoning cache and the results store.

WAL lets readers (a report, a second run on the same cache) go on while a run writes; every
write is its own transaction, so a process killed at any point (SIGKILL) loses only what it had
not yet written. ``synchronous=NORMAL`` is durable against a crashed process, not a power cut.
One connection per object, used from any thread behind a lock. Every failure of the file (locked,
read-only, full, not a database, a malformed page, a row whose JSON was damaged) is one
:class:`~aurelia.errors.StoreError` naming the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from aurelia.errors import StoreError

# how long a write waits for another connection's lock before it fails ("database is locked")
BUSY_TIMEOUT_S = 30.0


class Database:
    """A WAL-mode SQLite file with a schema; ``write`` commits each call on its own."""

    def __init__(self, path: str | Path, schema: str, what: str) -> None:
        self.path = Path(path).expanduser()
        self.what = what
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=BUSY_TIMEOUT_S)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(schema)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the {what} ({exc})", path=str(self.path)) from exc
        self.lock = threading.Lock()

    def write(self, sql: str, params: Iterable[Any] = ()) -> None:
        with self.lock, self.failure("write"), self.conn:
            self.conn.execute(sql, tuple(params))

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self.lock, self.failure("read"):
            return self.conn.execute(sql, tuple(params)).fetchall()

    def iter_rows(self, sql: str, params: Iterable[Any] = (), batch: int = 256) -> Iterator[tuple]:
        """The rows ``batch`` at a time from one cursor (an export never holds a whole table);
        the lock is held per batch, not between them."""
        with self.lock, self.failure("read"):
            cursor = self.conn.execute(sql, tuple(params))
        try:
            while True:
                with self.lock, self.failure("read"):
                    rows = cursor.fetchmany(batch)
                if not rows:
                    return
                yield from rows
        finally:  # no lock here: an abandoned generator may be closed by the collector at any point
            with suppress(sqlite3.Error):  # the connection may be closed already
                cursor.close()

    @contextmanager
    def failure(self, verb: str) -> Iterator[None]:
        """A locked, read-only or damaged file becomes one typed error naming it."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {verb} the {self.what} ({exc})", path=str(self.path)) from exc

    def loads(self, text: Any, column: str) -> Any:
        """A stored JSON column; a damaged one (edited, torn) is a StoreError naming the file."""
        try:
            return json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            raise StoreError(f"a stored {column} in the {self.what} is not valid JSON ({reason})", path=str(self.path)) from exc

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def dumps(value: Any, *, canonical: bool = True) -> str:
    """JSON without ASCII escaping; canonical (sorted keys) for what is hashed or compared,
    in the given order for records that people read."""
    return json.dumps(value, sort_keys=canonical, ensure_ascii=False, default=str)
