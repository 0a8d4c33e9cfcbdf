"""Bytes per checkpoint against video size: checkpoints hold media references, never bytes.

Runs the full graph (scripted agents, T=3 and scores below τ, so every node runs) with the
SQLite checkpointer that durable runs use, on synthetic clips of growing length, and prints per
clip: file size, checkpoints written, mean and largest bytes per checkpoint (checkpoint blob +
metadata + the writes recorded against it), and whether any media bytes or an API key reached
the database. Bytes per checkpoint must stay flat as the video grows.

    python benchmarks/checkpoint_size.py [SECONDS ...]     (default: 4 16 64)
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from aurelia.durable import run_thread
from aurelia.testing.clips import Segment, make_clip

CANARY_KEY = "sk-checkpoint-canary-0123456789abcdef"
COLOURS = [(220, 30, 30), (30, 60, 220), (40, 200, 60), (230, 200, 40)]
REASONING = '{"steps": [{"step": "Note the colour in each part", "answer": "red, blue, green"}], "final_answer": "green"}'


def _models() -> dict[str, Any]:
    return {
        "generator": FakeListChatModel(responses=[REASONING]),
        "summarizer": FakeListChatModel(responses=["Coloured screens change every two seconds with tones."]),
        "evaluator": FakeListChatModel(responses=['{"score": 3, "rationale": "too vague"}']),
        "target": FakeListChatModel(responses=["C"]),
    }


def make_video(path: Path, seconds: int) -> Path:
    segments = [Segment(2, COLOURS[i % 4], 220.0 * (1 + i % 3) if i % 4 != 3 else None, motion=True) for i in range(max(1, seconds // 2))]
    return make_clip(path, segments, size=(320, 240))


def checkpoint_sizes(db: Path) -> list[int]:
    conn = sqlite3.connect(db)
    writes = dict(conn.execute("SELECT checkpoint_id, SUM(LENGTH(value)) FROM writes GROUP BY checkpoint_id").fetchall())
    rows = conn.execute("SELECT checkpoint_id, LENGTH(checkpoint) + LENGTH(metadata) FROM checkpoints").fetchall()
    conn.close()
    return [size + (writes.get(cid) or 0) for cid, size in rows]


def leaks(db: Path, video: Path) -> list[str]:
    """What should never be in a checkpoint: the key, base64 runs, raw media bytes."""
    blob = db.read_bytes()
    raw = video.read_bytes()
    found = []
    if CANARY_KEY.encode() in blob:
        found.append("api key")
    if re.search(rb"[A-Za-z0-9+/]{400,}", blob):
        found.append("base64")
    probes = [raw[i : i + 64] for i in range(len(raw) // 4, len(raw) - 64, 997)]
    if any(p in blob for p in probes if len(set(p)) >= 40):  # skip runs of padding that any file may hold
        found.append("media bytes")
    return found


def measure(durations: list[int], workdir: Path) -> list[dict[str, Any]]:
    os.environ.setdefault("OPENAI_API_KEY", CANARY_KEY)
    rows = []
    for seconds in durations:
        video = make_video(workdir / f"clip_{seconds}s.mp4", seconds)
        db = workdir / f"checkpoints_{seconds}s.sqlite"
        result = run_thread(
            video, "What colour comes last?", choices=["red", "blue", "green", "yellow"], thread_id=f"bench-{seconds}", db=db,
            models=_models(), settings={"max_iterations": 3},
        )  # fmt: skip
        sizes = checkpoint_sizes(db)
        rows.append(
            {
                "seconds": seconds,
                "video_bytes": video.stat().st_size,
                "checkpoints": len(sizes),
                "mean_bytes": round(sum(sizes) / len(sizes)),
                "max_bytes": max(sizes),
                "iterations": len(result["iterations"]),
                "leaks": leaks(db, video),
            }
        )
    return rows


def main(argv: list[str]) -> None:
    durations = [int(a) for a in argv] or [4, 16, 64]
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(durations, Path(tmp))
    print(f"{'video':>8} {'file bytes':>11} {'checkpoints':>11} {'mean B/ckpt':>12} {'max B/ckpt':>11}  leaks")
    for r in rows:
        leaked = ", ".join(r["leaks"]) or "none"
        print(f"{r['seconds']:>7}s {r['video_bytes']:>11,} {r['checkpoints']:>11} {r['mean_bytes']:>12,} {r['max_bytes']:>11,}  {leaked}")
    growth = rows[-1]["mean_bytes"] / rows[0]["mean_bytes"]
    size_growth = rows[-1]["video_bytes"] / rows[0]["video_bytes"]
    print(f"video grew {size_growth:.1f}x; mean bytes per checkpoint grew {growth:.2f}x")


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(lambda: main(sys.argv[1:]), "docs/performance.md")
