"""Flaky providers: ``aurelia bench run`` on the offline sample benchmark with every agent and the
target served by a loopback OpenAI-compatible server that fails about 30% of requests (429, 500,
503, dropped connections, hangs past the timeout) on a seeded schedule. Every sample × target ×
inject record ends answered or failed with its reason, none lost, none doubled; a rerun with
``--retry-failed`` against the healed server completes the failed ones."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aurelia.cli import app
from aurelia.models import retry
from aurelia.testing.bench_faults import flaky_script, store_counts
from aurelia.testing.faults import FaultServer

runner = CliRunner()
SEED = 13
REPLIES = {
    "gen": '{"steps": [{"step": "Count the beeps", "answer": "3"}], "final_answer": "3"}',
    "sum": "Three beeps, then silence.",
    "eval": '{"score": 8, "rationale": "ok"}',
    "tgt": "A",
}
LIMIT = 5


def store_errors(run: Path) -> dict[tuple[str, str], str | None]:
    with sqlite3.connect(run / "store.sqlite") as db:
        rows = db.execute("SELECT record FROM results").fetchall()
    return {(r["id"], r["inject"]): r["error"] for r in (json.loads(x[0]) for x in rows)}


@pytest.fixture()
def no_waits(monkeypatch):
    monkeypatch.setattr(retry, "sleep", lambda _s: None)  # Retry-After and backoff recorded, not slept
    monkeypatch.setenv("OPENAI_API_KEY", "not-used")


def test_flaky_providers_lose_and_double_nothing_and_retry_failed_completes(tmp_path: Path, no_waits) -> None:
    bench = tmp_path / "bench"
    assert runner.invoke(app, ["bench", "sample", str(bench)]).exit_code == 0
    rng = random.Random(SEED)
    scripts = {name: flaky_script(rng, 400) for name in REPLIES}
    with FaultServer(scripts, REPLIES) as server:
        args = ["bench", "run", str(bench / "manifest.jsonl"), "--target", server.url("tgt"), "--out", str(tmp_path / "run")]
        args += ["--cache", str(tmp_path / "c.sqlite"), "--limit", str(LIMIT), "--concurrency", "1", "--timeout", "0.5", "--quiet"]
        args += ["--generator", server.url("gen"), "--summarizer", server.url("sum"), "--evaluator", server.url("eval")]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, f"seed {SEED}: {first.output}"
        faults = sum(1 for s in server.seen if s.behaviour != "ok")
        assert faults > 0, f"seed {SEED}: the schedule injected no fault"
        counts = store_counts(tmp_path / "run")
        assert len(counts) == LIMIT * 2 and set(counts.values()) == {1}, f"seed {SEED}: {counts}"
        errors = store_errors(tmp_path / "run")
        failed = {k: e for k, e in errors.items() if e}
        assert failed, f"seed {SEED}: no call failed all its attempts; pick a seed that makes one"
        assert all(e.strip() for e in failed.values())  # each failure says why
        for name in REPLIES:
            server.script(name, ["ok"])
        healed = runner.invoke(app, [*args, "--retry-failed"])
    assert healed.exit_code == 0, healed.output
    assert store_counts(tmp_path / "run") == counts  # the same records, still one each
    assert not any(store_errors(tmp_path / "run").values())
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == LIMIT * 2
