"""``--langsmith``: a finished run as a LangSmith dataset and experiments, with the langsmith SDK.

The dataset is the run's manifest samples (inputs: media paths, question, choices; reference
outputs: the answer and references; metadata: id, task, category); its name carries a hash of
the samples, so the same manifest reuses the same dataset. Each target × inject mode becomes an
experiment (a project whose ``reference_dataset_id`` is the dataset): one run per sample with
the raw output, what part 1's reader made of it and its error, feedback ``correct`` (closed
tasks), and the task metrics (accuracy, the COCO metrics) as the experiment's summary feedback.
Runs go through the scrubbing client (``aurelia.tracing``): no media bytes, no keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

from aurelia.bench.db import dumps
from aurelia.bench.manifest import Sample
from aurelia.bench.report import RunData, scored
from aurelia.errors import InputError
from aurelia.tracing import scrubbing_client

NAMESPACE = uuid.UUID("6f1d3a52-7d0e-4a55-9d8c-61a0b7e2c9f4")  # example ids: uuid5(NAMESPACE, dataset/sample)
NOT_METRICS = ("n", "unparsed")


def example_inputs(sample: Sample) -> dict[str, Any]:
    inputs = {"video": sample.video, "audio": sample.audio, "question": sample.question, "choices": sample.choices}
    if sample.audio_candidates:
        inputs["audio_candidates"] = sample.audio_candidates
    if sample.history:
        inputs["history"] = [t.model_dump() for t in sample.history]
    return inputs


def dataset_name(data: RunData) -> str:
    digest = hashlib.sha256(
        dumps([s.model_dump(mode="json", exclude={"video", "audio", "audio_candidates"}) for s in data.samples]).encode()
    )
    return f"aurelia-bench {Path(data.run['settings'].get('manifest', 'manifest')).stem} {digest.hexdigest()[:8]}"


def ensure_dataset(client: Any, data: RunData, name: str) -> tuple[Any, dict[str, uuid.UUID]]:
    """The dataset of the run's samples (created with its examples when it does not exist yet)."""
    from langsmith.utils import LangSmithNotFoundError

    ids = {s.id: uuid.uuid5(NAMESPACE, f"{name}/{s.id}") for s in data.samples}
    try:
        return client.read_dataset(dataset_name=name), ids
    except LangSmithNotFoundError:
        pass
    dataset = client.create_dataset(name, description="AVReasonBench samples recorded by `aurelia bench run --langsmith`.")
    examples = [
        {
            "inputs": example_inputs(s),
            "reference_outputs": {"answer": s.answer, "references": s.all_references()},
            "metadata": {"id": s.id, "task": s.task, "category": s.category},
            "id": ids[s.id],
        }
        for s in data.samples
    ]
    client.create_examples(dataset_id=dataset.id, examples=examples)
    return dataset, ids


def check_langsmith() -> None:
    """Before a run: --langsmith without a key would only fail at the end."""
    if not (os.environ.get("LANGSMITH_API_KEY") or os.environ.get("LANGCHAIN_API_KEY")):
        raise InputError("--langsmith needs LANGSMITH_API_KEY (and LANGSMITH_ENDPOINT for a self-hosted LangSmith)")


def record_in_langsmith(run_dir: str | Path, *, client: Any = None) -> dict[str, Any]:
    """Upload the run's samples as a dataset and each target × inject mode as an experiment."""
    if client is None:
        check_langsmith()
    data = RunData(run_dir)
    client = client or scrubbing_client()
    name = dataset_name(data)
    dataset, example_ids = ensure_dataset(client, data, name)
    by_id = {s.id: s for s in data.samples}
    stamp = dt.datetime.now(dt.UTC)
    experiments, runs, feedback = [], 0, 0
    settings = data.run["settings"]
    for target in data.targets:
        for mode in data.modes:
            records = data.records(target, mode)
            if not records:
                continue
            project = client.create_project(
                f"{data.dir.name} · {target} · {mode} · {stamp:%Y-%m-%d %H:%M:%S}",
                reference_dataset_id=dataset.id,
                metadata={"target": target, "inject": mode, "threshold": data.threshold, "max_iterations": data.max_iterations,
                          "agents": {k: v for k, v in settings["context"].items() if k.endswith("_model")}},
            )  # fmt: skip
            experiments.append(project.name)
            for r in records:
                run_id = uuid.uuid4()
                end = stamp + dt.timedelta(seconds=float(r.get("seconds") or 0.0))
                client.create_run(
                    "aurelia-bench",
                    example_inputs(by_id[r["id"]]),
                    "chain",
                    id=run_id,
                    project_name=project.name,
                    reference_example_id=example_ids[r["id"]],
                    outputs={"output": r.get("output"), "parsed": r.get("parsed"), "correct": r.get("correct")},
                    error=r.get("error"),
                    start_time=stamp,
                    end_time=end,
                    extra={"metadata": {"sample_id": r["id"], "task": r["task"], "target": target, "inject": mode}},
                )
                runs += 1
                if r.get("correct") is not None:
                    client.create_feedback(run_id, "correct", score=int(r["correct"]), trace_id=run_id, session_id=project.id)
                    feedback += 1
            for task, metrics in scored(data, {r["id"]: r["output"] for r in records if not r.get("error")})["tasks"].items():
                for metric, value in metrics.items():
                    if metric not in NOT_METRICS:
                        client.create_feedback(None, f"{task}/{metric}", score=value, project_id=project.id)
                        feedback += 1
    client.flush()
    return {"dataset": name, "examples": len(example_ids), "experiments": experiments, "runs": runs, "feedback": feedback}
