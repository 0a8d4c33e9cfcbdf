"""The reasoning cache: r* and its whole trajectory, computed once per sample and agent setting.

A benchmark answers many targets and inject modes with the same r*; generating it is the
expensive part. The key is a hash of everything that shapes the reasoning: the media content
(sha256 of every file, not its path), the question, choices and dialog history, every Context
field except the target's, the review's and the time limits (read from
``dataclasses.fields(Context)``, so a new field joins the key by itself), the labels of model instances given in code, and a fingerprint
of every file under ``aurelia/prompts/``. Change any of them and the key misses. The cache is
one SQLite file (WAL) shared across runs, by default in the user's cache folder.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from aurelia.bench.db import Database, dumps
from aurelia.bench.manifest import MAX_MEDIA_BYTES, Sample
from aurelia.bench.trajectory import trajectory_problem
from aurelia.graph.context import Context
from aurelia.media.probe import cached_sha256, check_readable_file
from aurelia.redact import redact_deep

# Context fields that do not shape the reasoning: the target's answer, a human review, and the
# limits on a call or a run (a reasoning that finishes is the same under any of them)
NOT_REASONING = frozenset(
    {"target_model", "target_max_tokens", "target_temperature", "inject", "inject_position", "answer_kind", "extractor_model"}
    | {"review", "request_timeout", "run_budget"}
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS reasoning (key TEXT PRIMARY KEY, value TEXT NOT NULL, parts TEXT NOT NULL, created REAL NOT NULL);
"""


def default_cache_path() -> Path:
    """``$AURELIA_CACHE_DIR``, else ``$XDG_CACHE_HOME/aurelia``, else ``~/.cache/aurelia``; file reasoning.sqlite."""
    root = os.environ.get("AURELIA_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aurelia"
    return Path(root).expanduser() / "reasoning.sqlite"


def fingerprint_files(root: Path) -> str:
    """sha256 over the relative path and bytes of every file under ``root`` (compiled files aside)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def prompt_files_fingerprint() -> str:
    """The fingerprint of ``aurelia/prompts/``: every template and formatting helper, recursively."""
    return fingerprint_files(Path(str(resources.files("aurelia.prompts"))))


def reasoning_settings(ctx: Context) -> dict[str, Any]:
    """The Context fields that shape the reasoning, by name."""
    return {f.name: getattr(ctx, f.name) for f in fields(Context) if f.name not in NOT_REASONING}


def media_hashes(sample: Sample) -> dict[str, str]:
    """sha256 of each media file of a (resolved) sample, by field; hashed once per file version.
    Each file is checked first (a regular file within ``MAX_MEDIA_BYTES``): a FIFO or a device is
    a MediaError naming it, never read."""
    out = {}
    for name, p in sample.media():
        check_readable_file(p, MAX_MEDIA_BYTES)
        out[name] = cached_sha256(p)  # shared with the probe: hashed once per file version, not again here
    return out


def key_parts(sample: Sample, ctx: Context, model_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Everything the key hashes, readable (stored beside each entry), with model URLs' credentials
    redacted: they never reach the cache, and a changed password is the same model."""
    return redact_deep(
        {
            "media": media_hashes(sample),
            "question": sample.question,
            "choices": sample.choices,
            "history": [t.model_dump() for t in sample.history or []],
            "settings": reasoning_settings(ctx),
            "model_instances": dict(sorted((model_labels or {}).items())),
            "prompts": prompt_files_fingerprint(),
        }
    )


def reasoning_identity(ctx: Context, model_labels: Mapping[str, str], source: str) -> dict[str, Any]:
    """What a run's r* must stay the same in across its invocations (flat, for a readable refusal):
    where r* comes from, the reasoning settings, model instances and the prompt files."""
    return redact_deep(
        {
            "reasoning": source,
            **reasoning_settings(ctx),
            **{f"{role} model instance": label for role, label in sorted(model_labels.items())},
            "prompt files": prompt_files_fingerprint()[:12],
        }
    )


def reasoning_key(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(dumps(parts).encode()).hexdigest()


class ReasoningCache:
    """key -> trajectory (iterations, calls, r*, stop reason), one transaction per entry."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.db = Database(path or default_cache_path(), SCHEMA, "reasoning cache")
        self.path = self.db.path

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry, or None: also for one that is not a usable trajectory (a malformed reply
        cached by an older version is a miss, and the next run replaces it)."""
        rows = self.db.rows("SELECT value FROM reasoning WHERE key = ?", (key,))
        if not rows:
            return None
        value = self.db.loads(rows[0][0], "reasoning")
        return value if trajectory_problem(value) is None else None

    def put(self, key: str, value: Mapping[str, Any], parts: Mapping[str, Any]) -> None:
        """Store an entry; every string in it is redacted (no key or URL credential is ever cached)."""
        self.db.write("INSERT OR REPLACE INTO reasoning VALUES (?, ?, ?, ?)", (key, dumps(redact_deep(value)), dumps(parts), time.time()))

    def __len__(self) -> int:
        return self.db.rows("SELECT COUNT(*) FROM reasoning")[0][0]

    def close(self) -> None:
        self.db.close()
