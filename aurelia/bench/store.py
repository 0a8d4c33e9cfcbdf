"""The results store of a run: ``RUN/store.sqlite`` (WAL), the source of truth of a run.

Tables: ``samples`` (each manifest sample as run, with its trajectory and where r* came from),
``results`` (one record per sample × target × inject mode), ``ablation`` (one per sample ×
target × inject mode × distinct r* of the T/τ grid) and ``meta`` (the reasoning settings the run
was made with, so that a resume with other agent settings is refused instead of mixed in).
Each record is written in its own transaction: a killed run loses only the samples in flight.
``RUN/results.jsonl`` is an export rebuilt from this store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import filelock

from aurelia.bench.db import Database, dumps
from aurelia.bench.manifest import Sample
from aurelia.bench.records import write_jsonl
from aurelia.bench.trajectory import trajectory_problem
from aurelia.errors import InputError
from aurelia.files import LockHeld, atomic_write_text, pid_lock
from aurelia.redact import redact_deep, redact_text

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
  id TEXT PRIMARY KEY, ord INTEGER NOT NULL, sample TEXT NOT NULL, key TEXT, status TEXT NOT NULL,
  source TEXT, trajectory TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS results (
  id TEXT NOT NULL, target TEXT NOT NULL, inject TEXT NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL,
  PRIMARY KEY (id, target, inject));
CREATE TABLE IF NOT EXISTS ablation (
  id TEXT NOT NULL, target TEXT NOT NULL, inject TEXT NOT NULL, rhash TEXT NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL,
  PRIMARY KEY (id, target, inject, rhash));
"""

DONE, FAILED = "done", "failed"


class ResultStore:
    """RUN/store.sqlite."""

    def __init__(self, run_dir: str | Path, *, create: bool = True, exclusive: bool = False) -> None:
        """``exclusive``: hold RUN/run.lock while open, so that a second runner on the same folder
        is refused at once instead of doing the same work twice (readers need no lock)."""
        self.dir = Path(run_dir).expanduser()
        path = self.dir / "store.sqlite"
        if not create and not path.is_file():
            raise InputError("not a benchmark run folder (no store.sqlite in it)", path=str(self.dir))
        self.lock = run_lock(self.dir) if exclusive else None
        try:
            self.db = Database(path, SCHEMA, "results store")
        except BaseException:
            self.close_lock()
            raise

    # --- settings ---------------------------------------------------------------------------

    def meta(self, key: str) -> Any:
        rows = self.db.rows("SELECT value FROM meta WHERE key = ?", (key,))
        return self.db.loads(rows[0][0], "setting") if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        self.db.write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, dumps(redact_deep(value))))

    def check_reasoning_settings(self, settings: Mapping[str, Any]) -> None:
        """Remember the run's reasoning settings; a resume with others is an InputError naming them."""
        saved = self.meta("reasoning")
        if saved is None:
            self.set_meta("reasoning", dict(settings))
            return
        saved, now = json.loads(dumps(saved)), json.loads(dumps(settings))
        if saved != now:
            diff = sorted(k for k in {*saved, *now} if saved.get(k) != now.get(k))
            shown = ", ".join(f"{k} {saved.get(k)!r} (now {now.get(k)!r})" for k in diff[:4])
            raise InputError(
                f"this run was made with other reasoning settings: {shown}; resume with those or choose another --out", path=str(self.dir)
            )

    # --- samples ----------------------------------------------------------------------------

    def add_sample(self, sample: Sample, order: int) -> None:
        """Record the sample as run (kept as is when already there)."""
        self.db.write(
            "INSERT INTO samples (id, ord, sample, status) VALUES (?, ?, ?, 'pending') "
            "ON CONFLICT(id) DO UPDATE SET ord = excluded.ord, sample = excluded.sample",
            (sample.id, order, dumps(sample.model_dump(mode="json"))),
        )

    def set_trajectory(self, sample_id: str, key: str | None, source: str, trajectory: Mapping[str, Any]) -> None:
        self.db.write(
            "UPDATE samples SET key = ?, status = ?, source = ?, trajectory = ?, error = NULL WHERE id = ?",
            (key, DONE, source, dumps(redact_deep(trajectory)), sample_id),
        )

    def fail_sample(self, sample_id: str, error: str) -> None:
        self.db.write("UPDATE samples SET status = ?, error = ? WHERE id = ?", (FAILED, redact_text(error), sample_id))

    def trajectory(self, sample_id: str) -> dict[str, Any] | None:
        """The sample's stored trajectory; None also for one that is not usable (made anew then)."""
        rows = self.db.rows("SELECT trajectory FROM samples WHERE id = ? AND status = ?", (sample_id, DONE))
        return self._trajectory(rows[0][0], needs_star=True) if rows else None

    def _trajectory(self, text: str | None, needs_star: bool) -> dict[str, Any] | None:
        value = self.db.loads(text, "trajectory") if text else None
        return value if value is not None and trajectory_problem(value, needs_star=needs_star) is None else None

    def samples(self) -> list[dict[str, Any]]:
        """Every sample in manifest order: {sample, status, source, trajectory, error}; a stored
        trajectory that is not usable (a malformed reply kept by an older version) reads as none."""
        rows = self.db.rows("SELECT sample, status, source, trajectory, error FROM samples ORDER BY ord")
        return [
            {"sample": self.db.loads(s, "sample"), "status": st, "source": src, "trajectory": self._trajectory(t, False), "error": e}
            for s, st, src, t, e in rows
        ]

    # --- answers ----------------------------------------------------------------------------

    def put_result(self, record: Mapping[str, Any]) -> None:
        record = redact_deep(record)
        status = FAILED if record.get("error") else DONE
        self.db.write(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
            (record["id"], record["target"], record["inject"], status, dumps(record, canonical=False)),
        )

    def put_ablation(self, record: Mapping[str, Any]) -> None:
        record = redact_deep(record)
        status = FAILED if record.get("error") else DONE
        self.db.write(
            "INSERT OR REPLACE INTO ablation VALUES (?, ?, ?, ?, ?, ?)",
            (record["id"], record["target"], record["inject"], record["rhash"], status, dumps(record, canonical=False)),
        )

    def statuses(self, sample_id: str) -> dict[tuple[str, str], str]:
        """(target, inject) -> done / failed, for one sample."""
        return {(t, i): s for t, i, s in self.db.rows("SELECT target, inject, status FROM results WHERE id = ?", (sample_id,))}

    def ablation_statuses(self, sample_id: str) -> dict[tuple[str, str, str], str]:
        rows = self.db.rows("SELECT target, inject, rhash, status FROM ablation WHERE id = ?", (sample_id,))
        return {(t, i, h): s for t, i, h, s in rows}

    def results(self) -> list[dict[str, Any]]:
        """Every result record, in manifest order, then target and inject mode."""
        return list(self.iter_results())

    def iter_results(self) -> Iterator[dict[str, Any]]:
        """:meth:`results` streamed from a cursor, a batch of rows at a time."""
        rows = self.db.iter_rows("SELECT r.record FROM results r JOIN samples s ON s.id = r.id ORDER BY s.ord, r.target, r.inject")
        with closing(rows):  # its cursor is closed when a damaged row stops the reading, too
            for (record,) in rows:
                yield self.db.loads(record, "result")

    def ablations(self) -> Iterator[dict[str, Any]]:
        for (record,) in self.db.rows("SELECT record FROM ablation"):
            yield self.db.loads(record, "ablation result")

    def export_results(self, path: str | Path | None = None) -> Path:
        """Rebuild RUN/results.jsonl from the store."""
        return self.write_results(path)[0]

    def write_results(self, path: str | Path | None = None) -> tuple[Path, int]:
        """Rebuild RUN/results.jsonl (or ``path``) from the store, streamed row by row (memory stays
        flat however many records); returns the file and the number of records written."""
        out = Path(path) if path else self.dir / "results.jsonl"
        return out, write_jsonl(out, self.iter_results())

    def close(self) -> None:
        self.db.close()
        self.close_lock()

    def close_lock(self) -> None:
        if self.lock is not None:
            self.lock.release()  # the kernel releases it on SIGKILL too
            self.lock = None


def run_lock(run_dir: Path) -> filelock.FileLock:
    """RUN/run.lock, taken without waiting (:func:`aurelia.files.pid_lock`); refused in one line
    while another process holds it."""
    try:
        return pid_lock(run_dir / "run.lock")
    except LockHeld as held:
        raise InputError(
            f"another `aurelia bench run` (pid {held.holder}) is using this run folder; wait for it or stop it", path=str(run_dir)
        ) from None
    except OSError as exc:
        raise InputError(f"cannot write in the run folder ({exc.strerror or exc})", path=str(run_dir)) from exc


def write_run_json(run_dir: str | Path, settings: Mapping[str, Any], counts: Mapping[str, Any], status: str) -> Path:
    """RUN/run.json: the settings, this invocation's counts and status, and how many invocations
    the run has had (a resume is one more)."""
    path = Path(run_dir) / "run.json"
    previous = read_run_json(run_dir) if path.is_file() else {}
    invocations = previous.get("invocations", 0) + (1 if status == "running" else 0) or 1
    data = {
        "status": status,
        "invocations": invocations,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": dict(settings),
        "counts": dict(counts),
    }
    try:
        atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write ({exc.strerror or exc})", path=str(path)) from exc
    return path


def read_run_json(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the run's settings ({exc})", path=str(path)) from exc
