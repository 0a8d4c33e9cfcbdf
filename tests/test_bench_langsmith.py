"""``--langsmith``: the real langsmith client against a local HTTP endpoint that keeps what it is
sent (the tracing test's collector, plus datasets, examples, projects and feedback)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from test_bench_runner import write_manifest
from test_tracing import LS_KEY, Collector

from aurelia.bench import run_benchmark
from aurelia.errors import InputError
from aurelia.testing.chat import TimedFakeChat, agent_models
from aurelia.testing.faults import LoopbackServer

TENANT = str(uuid.uuid4())


class LangSmith(Collector):
    """Runs and batched feedback as in the tracing test; datasets, examples, projects, feedback here."""

    datasets: dict[str, dict]
    examples: list[dict]
    projects: list[dict]
    feedback: list[dict]

    def _body(self) -> dict | list:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def do_GET(self) -> None:
        if self.path.startswith("/datasets"):
            name = self.path.split("name=", 1)[1].split("&")[0] if "name=" in self.path else None
            from urllib.parse import unquote_plus

            self._reply_any([d for d in self.datasets.values() if name is None or d["name"] == unquote_plus(name)])
        else:
            super().do_GET()

    def _reply_any(self, payload) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        now = datetime.now(UTC).isoformat()
        if self.path.startswith("/datasets"):
            body = self._body()
            dataset = {
                "id": str(uuid.uuid4()),
                "name": body["name"],
                "description": body.get("description"),
                "created_at": now,
                "data_type": "kv",
            }
            self.datasets[dataset["id"]] = dataset
            self._reply_any(dataset)
        elif self.path.startswith("/examples/bulk"):
            body = self._body()
            self.examples += body
            self._reply_any([{"id": e["id"]} for e in body])
        elif self.path.startswith("/sessions"):
            body = self._body()
            project = {**body, "tenant_id": TENANT, "start_time": now}
            self.projects.append(project)
            self._reply_any(project)
        elif self.path.startswith("/feedback"):
            self.feedback.append(self._body())
            self._reply_any({})
        else:
            self._handle()


@pytest.fixture
def langsmith(monkeypatch):
    handler = type("H", (LangSmith,), {"bodies": [], "runs": {}, "datasets": {}, "examples": [], "projects": [], "feedback": []})
    server = LoopbackServer(handler, "langsmith").start()
    monkeypatch.setenv("LANGSMITH_ENDPOINT", server.base_url)
    monkeypatch.setenv("LANGSMITH_API_KEY", LS_KEY)
    from langsmith.utils import get_env_var

    get_env_var.cache_clear()
    yield handler
    server.close()
    monkeypatch.undo()
    get_env_var.cache_clear()


def test_a_run_becomes_a_dataset_and_one_experiment_per_target_and_inject_mode(langsmith, tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 3)
    targets = {"right": TimedFakeChat(responses=["C"]), "wrong": TimedFakeChat(responses=["A"])}
    run_benchmark(manifest, targets, tmp_path / "run", models=agent_models(), cache=tmp_path / "c.sqlite", langsmith=True)
    assert len(langsmith.datasets) == 1 and next(iter(langsmith.datasets.values()))["name"].startswith("aurelia-bench manifest ")
    assert sorted(e["metadata"]["id"] for e in langsmith.examples) == ["s0", "s1", "s2"]
    assert {e["outputs"]["answer"] for e in langsmith.examples} == {"green"}
    dataset_id = next(iter(langsmith.datasets))
    assert len(langsmith.projects) == 4 and all(p["reference_dataset_id"] == dataset_id for p in langsmith.projects)
    assert {tuple(p["extra"]["metadata"][k] for k in ("target", "inject")) for p in langsmith.projects} == {
        ("right", "none"),
        ("right", "steps"),
        ("wrong", "none"),
        ("wrong", "steps"),
    }
    runs = [r for r in langsmith.runs.values() if r.get("name") == "aurelia-bench"]
    examples = {e["id"] for e in langsmith.examples}
    assert len(runs) == 12 and all(r["reference_example_id"] in examples for r in runs)
    per_run = [f for f in langsmith.runs.values() if f.get("key") == "correct"]
    assert len(per_run) == 12 and sorted(f["score"] for f in per_run) == [0] * 6 + [1] * 6
    summary = {(f["session_id"], f["key"]): f["score"] for f in langsmith.feedback}
    by_project = {p["id"]: p["extra"]["metadata"]["target"] for p in langsmith.projects}
    assert {by_project[s]: v for (s, key), v in summary.items() if key == "av_compositional/accuracy"} == {"right": 1.0, "wrong": 0.0}
    # the same manifest again: the dataset is reused, new experiments are added
    run_benchmark(manifest, targets, tmp_path / "run2", models=agent_models(), cache=tmp_path / "c.sqlite", langsmith=True)
    assert len(langsmith.datasets) == 1 and len(langsmith.examples) == 3 and len(langsmith.projects) == 8


def test_langsmith_needs_a_key(tmp_path, clip, monkeypatch):
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LANGCHAIN_API_KEY", raising=False)
    manifest = write_manifest(tmp_path, clip, 1)
    with pytest.raises(InputError, match="LANGSMITH_API_KEY"):
        run_benchmark(
            manifest,
            {"t": TimedFakeChat(responses=["C"])},
            tmp_path / "run",
            models=agent_models(),
            cache=tmp_path / "c.sqlite",
            langsmith=True,
        )
