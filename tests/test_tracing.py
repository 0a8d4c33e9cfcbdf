"""LangSmith tracing with the real ``langsmith`` client, pointed (LANGSMITH_ENDPOINT) at a local
HTTP server started here: the run tree has named node and agent-call runs with role/model tags
and run metadata, and no API key, data URL or base64 media anywhere in what was sent."""

from __future__ import annotations

import base64
import json
import re
from email.parser import BytesParser
from email.policy import HTTP

import pytest
from fakes import REASONING_JSON, block_types, fake
from langchain_core.tracers.langchain import wait_for_all_tracers
from langsmith.utils import get_env_var

import aurelia.tracing as tracing
from aurelia.models.registry import as_role_model
from aurelia.run import run
from aurelia.testing.faults import LoopbackServer, QuietHandler
from aurelia.tracing import scrub

SECRET = "sk-aurelia-test-0123456789abcdefSECRET"
LS_KEY = "lsv2_pt_aureliatest0123456789abcdef"
INFO = {
    "version": "0.10.0",
    "batch_ingest_config": {
        "use_multipart_endpoint": True,
        "size_limit": 100,
        "size_limit_bytes": 20_000_000,
        "scale_up_qsize_trigger": 1000,
        "scale_up_nthreads_limit": 4,
        "scale_down_nempty_trigger": 4,
    },
}


class Collector(QuietHandler):
    """Just enough of the LangSmith API: /info, multipart and JSON batch ingestion."""

    bodies: list[bytes]
    runs: dict[str, dict]

    def _reply(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply(INFO if self.path.startswith("/info") else {})

    def _merge(self, run_id: str, fields: dict) -> None:
        self.runs.setdefault(run_id, {}).update({k: v for k, v in fields.items() if v is not None})

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.bodies.append(body)
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/"):
            msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                _, run_id, *field = name.split(".")
                value = json.loads(part.get_payload(decode=True))
                self._merge(run_id, {field[0]: value} if field else value)
        elif self.path.startswith("/runs/batch"):
            data = json.loads(body)
            for item in [*data.get("post", []), *data.get("patch", [])]:
                self._merge(item["id"], item)
        elif self.path.startswith("/runs"):
            item = json.loads(body)
            self._merge(item.get("id") or self.path.rsplit("/", 1)[-1], item)
        self._reply({})

    do_POST = do_PATCH = _handle


@pytest.fixture
def langsmith_server(monkeypatch):
    handler = type("H", (Collector,), {"bodies": [], "runs": {}})
    server = LoopbackServer(handler, "langsmith").start()
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", server.base_url)
    monkeypatch.setenv("LANGSMITH_API_KEY", LS_KEY)
    monkeypatch.setenv("LANGSMITH_PROJECT", "aurelia-tests")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    get_env_var.cache_clear()
    tracing.default_scrubbing_client.cache_clear()
    yield handler
    tracing.default_scrubbing_client.cache_clear()
    server.close()
    monkeypatch.undo()
    get_env_var.cache_clear()


def test_traced_run_tree(langsmith_server, clip):
    generator = fake(REASONING_JSON)
    models = {
        # declared image+audio capable, so it is sent base64 keyframes and audio: traces must not be
        "generator": as_role_model(generator, name="vision-gen", modalities=frozenset({"image", "audio"})),
        "summarizer": fake("Red with a tone, blue with beeps, then green and silent."),
        "evaluator": fake('{"score": 3, "rationale": "misses the beeps"}', '{"score": 8, "rationale": "matches"}'),
        "target": fake("C"),
    }
    result = run(
        clip, "What colour is the screen while the audio is silent?", choices=["red", "blue", "green"], models=models, sample_id="s-42"
    )
    assert result["answer"] == "green" and len(result["iterations"]) == 2
    assert {"image", "audio"} <= block_types(generator.seen[0])  # the model did get media bytes
    wait_for_all_tracers()
    tracing.default_scrubbing_client().flush()

    runs = langsmith_server.runs
    by_name: dict[str, list[dict]] = {}
    for r in runs.values():
        by_name.setdefault(r["name"], []).append(r)
    root = by_name["aurelia"][0]
    assert root.get("parent_run_id") is None and "aurelia" in root["tags"]
    for node in ("prepare", "generator", "summarizer", "evaluator", "feedback", "review", "target"):
        assert node in by_name, sorted(by_name)
    gens = sorted(by_name["generator"], key=lambda r: r["extra"]["metadata"]["iteration"])
    assert [g["extra"]["metadata"]["iteration"] for g in gens] == [1, 2]
    for i, g in enumerate(gens, start=1):
        meta = g["extra"]["metadata"]
        assert {"role:generator", "model:vision-gen", f"iteration:{i}"} <= set(g["tags"])
        assert meta["sample_id"] == "s-42" and meta["threshold"] == 6 and meta["max_iterations"] == 5
        call = by_name[f"generator #{i}"][0]
        assert call["parent_run_id"] == g["id"] and f"iteration:{i}" in call["tags"]
    scores = sorted((r["extra"]["metadata"]["iteration"], r["extra"]["metadata"]["score"]) for r in by_name["evaluator"])
    assert scores == [(1, 3), (2, 8)]
    evals = sorted(by_name["evaluator"], key=lambda r: r["extra"]["metadata"]["iteration"])
    assert [r["extra"]["metadata"]["stop_reason"] for r in evals] == [None, "threshold"]  # 3 < τ = 6, then 8
    assert {"role:target", "model:target-instance"} <= set(by_name["target"][0]["tags"])
    assert "summarizer #1" in by_name and "evaluator #2" in by_name and "target #2" in by_name

    # media appear as references: path + sha256 in the state, a hash stub where bytes were
    everything = b"\n".join(langsmith_server.bodies)
    assert SECRET.encode() not in everything and LS_KEY.encode() not in everything
    assert b"data:image" not in everything and b";base64," not in everything
    leak = re.search(rb"[A-Za-z0-9+/]{400,}", everything)
    assert not leak, everything[leak.start() - 800 : leak.start() + 40].decode(errors="replace")
    assert result["media"]["sha256"].encode() in everything
    assert b'"omitted": "base64 media"' in everything or b'"omitted":"base64 media"' in everything


def test_scrub_replaces_media_and_secrets():
    png = base64.b64encode(b"\x89PNG" + bytes(600)).decode()
    data = {
        "messages": [{"content": [{"type": "image", "base64": png, "mime_type": "image/png"}, {"type": "text", "text": "hi"}]}],
        "url": f"data:image/png;base64,{png}",
        "note": f"see data:audio/wav;base64,{png} here",
        "api_key": "abc",
        "openai_api_key": "xyz",
        "max_tokens": 384,
        "text": "token sk-abcdefghijklmnopqrstuvwxyz012345 leaked",
    }
    out = scrub(data)
    block = out["messages"][0]["content"][0]
    assert block["base64"]["omitted"] == "base64 media" and block["base64"]["mime_type"] == "image/png" and block["base64"]["bytes"] == 604
    assert out["url"]["mime_type"] == "image/png" and "base64," not in out["note"]
    assert out["api_key"] == out["openai_api_key"] == "[redacted]" and out["max_tokens"] == 384
    assert "sk-abc" not in out["text"] and out["messages"][0]["content"][1]["text"] == "hi"
