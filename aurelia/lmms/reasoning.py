"""r* for one lmms-eval doc, made once under the shared reasoning cache, and the reasoning log.

The key is ``aurelia.bench``'s (:func:`aurelia.bench.cache.key_parts`): media hashes, question,
choices, dialog history, the agents' settings and the prompt files. The target and its arguments
are not in it, so a rerun, or the same task with another ``target=``, makes no agent call; a doc
of our own task folders is the manifest's sample itself, so it shares r* with ``aurelia bench``.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from aurelia.bench.cache import ReasoningCache, key_parts, reasoning_key
from aurelia.bench.manifest import Sample
from aurelia.bench.trajectory import trajectory_of, trajectory_problem
from aurelia.errors import ModelCallError
from aurelia.graph.builder import build_reasoning_graph
from aurelia.graph.context import Context
from aurelia.prompts.format import dialog_question, injection_text
from aurelia.run import make_inputs

log = logging.getLogger(__name__)

LOG_NAME = "aurelia_reasoning.jsonl"
# a doc that is not one of our manifest samples has no reference answer here: the key never reads it
NO_ANSWER = "(not known to the plugin)"


@dataclass
class DocReasoning:
    """What one doc got: r* and where it came from, or why there is none."""

    sample: Sample | None
    key: str | None = None
    source: str | None = None  # "graph" (made now), "cache", or None (failed / not asked)
    trajectory: dict[str, Any] | None = None
    agent_calls: int = 0
    error: str | None = None
    ignored_media: list[str] = field(default_factory=list)

    def injected(self, mode: str) -> str:
        """The text the target reads (nothing for ``none`` or without r*)."""
        star = (self.trajectory or {}).get("reasoning_star")
        return injection_text(star, mode) if star else ""


class Reasoner:
    """The reasoning-only graph behind the reasoning cache, one doc per call (the plugin calls it
    from a few threads at once); the graph compiles on the first cache miss."""

    def __init__(self, ctx: Context, cache: str | Path | None = None) -> None:
        self.ctx = ctx
        self.cache = ReasoningCache(cache)
        self._graph: Any = None
        self._compiling = threading.Lock()

    def reason(self, sample: Sample) -> DocReasoning:
        parts = key_parts(sample, self.ctx)
        key = reasoning_key(parts)
        hit = self.cache.get(key)
        if hit is not None:
            return DocReasoning(sample, key, "cache", hit)
        with self._compiling:  # docs are reasoned about in several threads: one graph for all
            if self._graph is None:
                self._graph = build_reasoning_graph()
        history = [t.model_dump() for t in sample.history or []]
        inputs = make_inputs(
            sample.video, dialog_question(sample.question, history), sample.audio, sample.choices, sample.id, sample.audio_candidates
        )
        config = {"run_name": "aurelia-lmms", "tags": ["aurelia", "aurelia-lmms"], "metadata": {"sample_id": sample.id}}
        result = self._graph.invoke(inputs, config=config, context=replace(self.ctx))  # a fresh Context: run_budget is per doc
        if problem := trajectory_problem(result):
            raise ModelCallError(f"the reasoning graph replied with no usable trajectory: {problem}")
        trajectory = trajectory_of(result)
        self.cache.put(key, trajectory, parts)
        return DocReasoning(sample, key, "graph", trajectory, agent_calls=len(trajectory.get("calls") or []))

    def close(self) -> None:
        self.cache.close()


class ReasoningLog:
    """``aurelia_reasoning.jsonl``: one line per doc (r*, its trajectory, where it came from),
    written as each doc is reasoned about. A run starts the file anew; with several lmms-eval
    processes each rank writes its own (``aurelia_reasoning_rank1.jsonl``, …)."""

    def __init__(self, directory: str | Path | None, rank: int = 0) -> None:
        name = LOG_NAME if rank == 0 else LOG_NAME.replace(".jsonl", f"_rank{rank}.jsonl")
        self.path = Path(directory) / name if directory is not None else None
        self._file: TextIO | None = None

    def write(self, entry: dict[str, Any]) -> None:
        if self.path is None:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")
        self._file.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def log_entry(doc: tuple[str, str, Any], got: DocReasoning, mode: str, position: str) -> dict[str, Any]:
    """The reasoning log's line for one doc (task, split, doc id)."""
    task, split, doc_id = doc
    s = got.sample
    return {
        "task": task,
        "split": split,
        "doc_id": doc_id,
        "sample_id": s.id if s else None,
        "inject": mode,
        "inject_position": position,
        "question": s.question if s else None,
        "media": {"video": s.video, "audio": s.audio, "ignored": got.ignored_media} if s else {"ignored": got.ignored_media},
        "source": got.source,
        "key": got.key,
        "agent_calls": got.agent_calls,
        "reasoning_star": (got.trajectory or {}).get("reasoning_star"),
        "injected": got.injected(mode),
        "trajectory": got.trajectory,
        "error": got.error,
    }
