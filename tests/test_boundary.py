"""The served-graph trust boundary: allowed models, where the server's keys may go, media under
the media root with one generic error outside it; and secrets out of every record (output,
errors, checkpoints, thread settings, traces). Real graphs, a real HTTP server on loopback."""

from __future__ import annotations

import json
import logging
import os
import sqlite3

import pytest
from fakes import REASONING_JSON, fake
from typer.testing import CliRunner

from aurelia import Context, build_graph
from aurelia.boundary import Policy
from aurelia.cli import app
from aurelia.errors import InputError, MediaError
from aurelia.graph.builder import make_graph
from aurelia.nodes.common import Models
from aurelia.testing.faults import FaultServer
from aurelia.tracing import scrub

KEY = "sk-servers-own-key-0123456789abcdef"
URL_SECRET = "urlpass-9f8e7d6c"


@pytest.fixture(scope="module")
def server():
    with FaultServer(
        replies={
            "gen": REASONING_JSON,
            "sum": "Red with a tone, blue with beeps, then green and silent.",
            "eval": '{"score": 8, "rationale": "matches"}',
            "target": "C",
        }
    ) as srv:
        yield srv


@pytest.fixture()
def served(monkeypatch, tmp_path, clip):
    """A deployment: media root = a folder holding a copy of the clip; only `local` models."""
    root = tmp_path / "media"
    root.mkdir()
    (root / "clip.mp4").write_bytes(clip.read_bytes())
    monkeypatch.setenv("AURELIA_MEDIA_ROOT", str(root))
    monkeypatch.setenv("AURELIA_ALLOWED_MODELS", "local")
    return root


def fakes():
    return {
        "generator": fake(REASONING_JSON),
        "summarizer": fake("Green and silent at the end."),
        "evaluator": fake('{"score": 8, "rationale": "matches"}'),
        "target": fake("C"),
    }


def invoke(graph, video: str, **context):
    return graph.invoke({"video": video, "question": "Colour?", "choices": ["red", "blue", "green"]}, context=Context(**context))


@pytest.mark.parametrize(
    ("entry", "raw", "allowed"),
    [
        ("*", "openai:gpt-4o", True),
        ("local", "local", True),
        ("local", "openai:gpt-4o", False),
        ("openai:*", "openai:gpt-4o-mini", True),
        ("openai:gpt-4o", "openai:gpt-4o#image+audio", True),  # the modalities suffix does not change where it goes
        ("http://vllm:8000/v1*", "http://vllm:8000/v1?model=qwen", True),
        ("http://vllm:8000/v1*", "http://vllm:8000@evil.example/v1?model=qwen", False),  # userinfo is not the host
        ("http://vllm*", "http://vllm.evil.example/v1?model=qwen", False),  # a URL prefix keeps its host exact
        ("http://vllm:8000/v1?model=qwen", "http://VLLM:8000/v1?model=qwen", True),
        ("http://vllm:8000/v1?model=qwen", "http://vllm:8001/v1?model=qwen", False),
    ],
)
def test_allowed_models(entry, raw, allowed):
    assert Policy(True, (entry,), None).model_allowed(raw) is allowed


def test_unset_means_local_and_a_server_graph_is_served_without_the_variables(monkeypatch, tmp_path):
    monkeypatch.delenv("AURELIA_MEDIA_ROOT", raising=False)
    monkeypatch.delenv("AURELIA_ALLOWED_MODELS", raising=False)
    assert Policy.from_env() == Policy()  # the CLI and the Python API: as before
    monkeypatch.chdir(tmp_path)
    policy = Policy.from_env(served=True)
    assert policy.allowed_models == ("local", "") and policy.media_roots == (tmp_path.resolve(),)
    with pytest.raises(InputError, match="generator_model 'openai:gpt-4o' is not allowed by this deployment"):
        invoke(make_graph(), "clip.mp4", generator_model="openai:gpt-4o")


def test_clients_choose_only_allowed_models(served, server):
    graph = build_graph(models={k: v for k, v in fakes().items() if k != "generator"})
    with pytest.raises(InputError, match="is not allowed by this deployment"):
        invoke(graph, "clip.mp4", generator_model=server.url("gen"))
    assert server.count("gen") == 0  # refused before any request


def test_media_paths_resolve_under_the_root(served, tmp_path, clip, caplog):
    graph = build_graph(models=fakes())
    out = invoke(graph, "clip.mp4")  # relative to the root
    assert out["answer"] == "green" and out["media"]["video"] == str(served / "clip.mp4")
    (served / "escape.mp4").symlink_to(clip)  # a symlink inside the root that leads out of it
    outside = [str(clip), str(tmp_path / "missing.mp4"), str(served / "escape.mp4"), "/etc/passwd", "/nonexistent/x.mp4"]
    messages = set()
    with caplog.at_level(logging.WARNING, logger="aurelia.boundary"):
        for path in outside:
            with pytest.raises(InputError) as info:
                invoke(graph, path)
            shown = os.path.relpath(path, served) if path.startswith(f"{served}{os.sep}") else path  # under a root: relative
            messages.add(str(info.value).replace(shown, "PATH"))
    # existing, missing, unreadable or not media: one answer, no existence oracle
    assert messages == {"PATH: the video path is not allowed: give a file under the media root of this deployment"}
    assert str(clip.resolve()) in caplog.text  # the details go to the server log
    for path, needle in [("../clip.mp4", "'..' is not allowed"), ("http://example.com/a.mp4", "not a URL"), ("a\x00b", "NUL")]:
        with pytest.raises(InputError, match=needle):
            invoke(graph, path)
    with pytest.raises(MediaError, match="file not found"):  # inside the root, the usual precise errors
        invoke(graph, "missing.mp4")


def test_server_keys_go_only_to_listed_urls(monkeypatch, server):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    ctx = Context(generator_model=server.url("keys"))
    server.script("keys", ["ok"], "fine")
    cases = [("*", False), (f"http://127.0.0.1:{server.port}/v1*", True), ("local,*", False)]
    for allowed, sends in cases:
        monkeypatch.setenv("AURELIA_ALLOWED_MODELS", allowed)
        Models(served=True).get("generator", ctx).model.invoke("hi")
        auth = server.seen[-1].headers["authorization"]
        assert (KEY in auth) is sends, (allowed, auth)
    monkeypatch.delenv("AURELIA_ALLOWED_MODELS")
    Models().get("generator", ctx).model.invoke("hi")  # local use: the user's own key, as before
    assert KEY in server.seen[-1].headers["authorization"]


def test_secrets_never_reach_output_checkpoints_settings_or_errors(monkeypatch, tmp_path, server, clip):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    creds = f"user:{URL_SECRET}"
    models = {role: server.url(name, creds) for role, name in [("generator", "gen"), ("summarizer", "sum"), ("evaluator", "eval")]}
    db = tmp_path / "t.sqlite"
    args = ["run", str(clip), "-q", "Colour?", "-c", "red", "-c", "blue", "-c", "green", "--max-iterations", "1", "--review"]
    args += ["--thread", "s1", "--db", str(db), "--json", "--quiet"]
    args += [f"--{role}={url}" for role, url in models.items()] + [f"--target={server.url('target', creds)}"]
    runner = CliRunner()
    paused = runner.invoke(app, args)
    assert paused.exit_code == 0, paused.output
    data = json.loads(paused.output)
    assert data["interrupt"]["reasoning_star"]["final_answer"] == "green"
    assert data["context"]["generator_model"] == server.url("gen", "***")
    # resuming needs the URL credentials again: they were never stored
    refused = runner.invoke(app, ["resume", "s1", "--approve", "--db", str(db), "--quiet"])
    assert refused.exit_code == 2 and "credentials are never stored" in refused.output and "--model" in refused.output
    again = [f"--model=target={server.url('target', creds)}"] + [f"--model={r}={u}" for r, u in models.items()]
    done = runner.invoke(app, ["resume", "s1", "--approve", "--db", str(db), "--json", "--quiet", *again])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["answer_choice"] == "C"
    # a failing call: the error names the model, never the credentials
    server.script("dead", ["401"])
    failed = runner.invoke(
        app, ["run", str(clip), "-q", "Colour?", "--generator", server.url("dead", creds), "--max-iterations", "1", "--quiet"]
    )
    assert failed.exit_code == 1 and "Error code: 401" in failed.output
    with sqlite3.connect(db) as conn:
        stored = b"".join(
            bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
            for table in ("checkpoints", "writes", "aurelia_threads")
            for row in conn.execute(f"SELECT * FROM {table}")
            for v in row
            if v is not None
        )
    lock_files = b"".join(p.read_bytes() for p in (tmp_path / "t.sqlite.locks").iterdir())
    everything = [paused.output, refused.output, done.output, failed.output, stored.decode("latin-1"), lock_files.decode()]
    for text in everything:
        assert URL_SECRET not in text and KEY not in text
    assert server.url("gen", "***") in stored.decode("latin-1")  # stored, redacted
    traced = scrub({"inputs": {"model": server.url("gen", creds), "note": f"key {KEY}"}})
    assert URL_SECRET not in json.dumps(traced) and KEY not in json.dumps(traced)


def test_error_messages_are_redacted(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    err = InputError(f"bad model https://u:{URL_SECRET}@h/v1?model=m&api_key=abc123 with {KEY}", path=f"https://u:{URL_SECRET}@h")
    assert URL_SECRET not in str(err) and KEY not in str(err) and "abc123" not in str(err)
    assert str(err) == "https://***@h: bad model https://***@h/v1?model=m&api_key=*** with ***"
    assert os.environ["OPENAI_API_KEY"] == KEY


@pytest.fixture()
def models_root(monkeypatch, tmp_path):
    """A deployment that lets clients pick any model ('*'), with a models root holding one GGUF
    file (its magic only: nothing here loads it), one HF directory, and things that are not models."""
    root = tmp_path / "models"
    (root / "hf-tiny").mkdir(parents=True)
    (root / "hf-tiny" / "config.json").write_text("{}")
    (root / "tiny.gguf").write_bytes(b"GGUF" + bytes(60))
    (root / "notes.gguf").write_text("not a model")
    (root / "out.gguf").symlink_to("/etc/hostname")
    os.mkfifo(root / "fifo.gguf")
    monkeypatch.setenv("AURELIA_ALLOWED_MODELS", "*")
    monkeypatch.setenv("AURELIA_MODELS_ROOT", str(root))
    monkeypatch.delenv("AURELIA_ALLOW_HUB_DOWNLOADS", raising=False)
    return root


def test_served_model_paths_sit_under_the_models_root(models_root, caplog):
    policy = Policy.from_env(served=True)
    assert policy.model_source("gguf:tiny.gguf", "generator_model") == f"gguf:{models_root / 'tiny.gguf'}"
    assert policy.model_source(f"gguf:{models_root}/tiny.gguf#text", "f") == f"gguf:{models_root / 'tiny.gguf'}#text"
    assert policy.model_source("hf:hf-tiny", "f") == f"hf:{models_root / 'hf-tiny'}"
    refused = [
        "gguf:/etc/hostname",  # exists, outside the root
        "gguf:/etc/no-such-file.gguf",  # missing, outside
        "gguf:missing.gguf",  # missing, inside
        "gguf:notes.gguf",  # not a GGUF file
        "gguf:out.gguf",  # a symlink out of the root
        "gguf:fifo.gguf",  # never opened for a blocking read
        "gguf:../models/tiny.gguf",
        "gguf:hf-tiny",  # a directory
        "hf:tiny.gguf",  # a file, not a model directory
        "hf:Qwen/Qwen2.5-Omni-3B",  # a hub id: no downloads when served
        "hf:/etc",
    ]
    messages = set()
    with caplog.at_level(logging.WARNING, logger="aurelia.boundary"):
        for raw in refused:
            with pytest.raises(InputError) as info:
                policy.model_source(raw, "generator_model")
            provider = raw.partition(":")[0]
            messages.add(str(info.value).replace(repr(raw), "RAW").replace(f" {provider}: ", " P: "))
    # missing, unreadable, outside or not a model: one answer, no existence oracle
    assert messages == {
        "generator_model RAW is not allowed: a served P: model must be a model under the models root of this deployment (AURELIA_MODELS_ROOT)"
    }
    assert "/etc/hostname is not a GGUF file" in caplog.text or "resolves to /etc/hostname" in caplog.text  # details: the log only


def test_served_model_paths_through_the_graph(models_root, served, monkeypatch):
    monkeypatch.setenv("AURELIA_ALLOWED_MODELS", "*")
    graph = build_graph(models={k: v for k, v in fakes().items() if k != "generator"})
    errors = []
    for raw in ("gguf:/etc/hostname", "gguf:/etc/no-such-file.gguf"):
        with pytest.raises(InputError) as info:
            invoke(graph, "clip.mp4", generator_model=raw)
        errors.append(str(info.value).replace(raw, "RAW"))
    assert errors[0] == errors[1] and "models root of this deployment" in errors[0]


def test_models_root_unset_hub_switch_and_listed_models(models_root, monkeypatch):
    monkeypatch.setenv("AURELIA_ALLOW_HUB_DOWNLOADS", "1")
    assert Policy.from_env(served=True).model_source("hf:Qwen/Qwen2.5-Omni-3B", "f") == "hf:Qwen/Qwen2.5-Omni-3B"
    assert Policy.from_env(served=True).model_source("hf:hf-tiny", "f") == f"hf:{models_root / 'hf-tiny'}"  # a local one wins
    monkeypatch.delenv("AURELIA_MODELS_ROOT")
    monkeypatch.delenv("AURELIA_ALLOW_HUB_DOWNLOADS")
    with pytest.raises(InputError, match="under the models root"):
        Policy.from_env(served=True).model_source(f"gguf:{models_root}/tiny.gguf", "f")
    # a model the deployment listed itself is its own choice: used as given
    monkeypatch.setenv("AURELIA_ALLOWED_MODELS", f"local,gguf:{models_root}/notes.gguf")
    assert Policy.from_env(served=True).model_source(f"gguf:{models_root}/notes.gguf", "f") == f"gguf:{models_root}/notes.gguf"
    assert Policy().model_source("gguf:/etc/hostname", "f") == "gguf:/etc/hostname"  # local use: as before


@pytest.mark.parametrize(
    "raw",
    [
        "http://user:secret-pw@127.0.0.1:8000/v1?model=m",
        "http://bob:pa@ssW0rd@127.0.0.1:8000/v1?model=m",
        "http://127.0.0.1:8000/v1?model=m&api_key=secret-pw",
        "https://127.0.0.1/v1?token=secret-pw&model=m",
    ],
)
def test_served_model_urls_take_no_credentials(monkeypatch, raw):
    monkeypatch.setenv("AURELIA_ALLOWED_MODELS", "*")
    with pytest.raises(InputError, match="takes no credentials in a model string") as info:
        Policy.from_env(served=True).check_model(raw, "generator_model")
    assert "secret-pw" not in str(info.value) and "ssW0rd" not in str(info.value)
    Policy().check_model(raw, "generator_model")  # local use: the user's own URL, as before


def test_served_errors_show_no_server_paths(served, monkeypatch):
    (served / "broken.mp4").write_bytes(b"not a video at all")
    graph = build_graph(models=fakes())
    with pytest.raises(MediaError) as info:
        invoke(graph, "broken.mp4")
    assert str(served) not in str(info.value) and "broken.mp4" in str(info.value)
    policy = Policy.from_env(served=True)
    home = os.path.expanduser("~")
    assert policy.served_text(f"{served}/a/b.mp4: bad") == "a/b.mp4: bad"
    assert policy.served_text(f"'{served}'") == "'.'"
    assert policy.served_text(f"{served}2/x") == f"{served}2/x"  # another folder that only starts alike
    assert policy.served_text(f"{home}/secret/x") == "~/secret/x" or str(served).startswith(home)
    assert Policy().served_text(f"{served}/a.mp4") == f"{served}/a.mp4"  # local: as given
