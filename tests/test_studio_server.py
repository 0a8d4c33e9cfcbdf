"""The real ``langgraph dev`` server on a free loopback port, driven by the real ``langgraph_sdk``:
both graphs are registered with described input and context schemas, runs stream one update per
iteration as it happens, the review interrupt pauses and resumes, and a run on the embedded model
completes with no blocking call on the server's event loop. No network beyond loopback."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest
from dev_server import dev_config, dev_server
from langgraph_sdk import get_sync_client

from aurelia.errors import InputError
from aurelia.run import SAMPLE_CHOICES, SAMPLE_QUESTION, sample_clip

ROOT = Path(__file__).resolve().parents[1]
# the deployment's users and their shared secrets (langgraph.json's auth: aurelia/graph/auth.py)
TOKENS = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef"}


def user_client(client, user: str | None, token: str | None = None):
    """A client of the same server as ``user`` (None: no token; ``token``: this one instead)."""
    return get_sync_client(url=str(client.http.client.base_url).rstrip("/"), api_key=token or (TOKENS[user] if user else None))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert set(config["graphs"]) == {"aurelia", "aurelia_reasoning"}
    assert config["auth"] == {"path": "./aurelia/graph/auth.py:auth", "disable_studio_auth": True}
    tmp = tmp_path_factory.mktemp("studio")
    dev_config(tmp)
    env = {
        # a deployment: media under the test folders and the bundled sample; models: the defaults only
        "AURELIA_MEDIA_ROOT": os.pathsep.join([str(tmp_path_factory.getbasetemp()), str(sample_clip().parent)]),
        "AURELIA_ALLOWED_MODELS": None,
        "AURELIA_API_TOKENS": ",".join(f"{user}={token}" for user, token in TOKENS.items()),
    }
    with dev_server(tmp, env, api_key=TOKENS["alice"]) as running:
        yield running


def _assistant(client, graph_id: str) -> str:
    return next(a["assistant_id"] for a in client.assistants.search(graph_id=graph_id))


def test_graphs_and_schemas(server):
    client, _ = server
    graphs = {a["graph_id"]: a["name"] for a in client.assistants.search()}
    # graph factories, compiled by the server, not at import (the fixture adds its own scripted graph)
    assert set(graphs) - {"aurelia_scripted", "aurelia_bench_reasoning"} == {"aurelia", "aurelia_reasoning"}
    for graph_id in ("aurelia", "aurelia_reasoning"):
        schemas = client.assistants.get_schemas(_assistant(client, graph_id))
        inputs = schemas["input_schema"]["properties"]
        assert {"video", "audio", "question", "choices"} <= set(inputs)
        assert schemas["input_schema"]["required"] == ["video", "question"]
        assert all(inputs[k].get("description") for k in ("video", "audio", "question", "choices"))
        context = schemas["context_schema"]["properties"]
        for key in (
            "threshold",
            "max_iterations",
            "generator_model",
            "summarizer_model",
            "evaluator_model",
            "target_model",
            "inject",
            "num_frames",
            "review",
        ):
            assert context[key].get("description"), key
        assert context["threshold"]["default"] == 6 and context["max_iterations"]["default"] == 5
        assert (context["threshold"]["minimum"], context["threshold"]["maximum"]) == (1, 10)  # Studio shows the bounds
        assert context["max_iterations"]["minimum"] == 1
        assert context["inject"]["enum"] == ["steps", "steps_answers", "full", "none"]
        assert "reasoning_star" in schemas["output_schema"]["properties"]


def test_iterations_stream_as_they_happen(server, clip):
    client, _ = server
    thread = client.threads.create()
    arrivals = []
    start = time.monotonic()
    for part in client.runs.stream(
        thread["thread_id"],
        "aurelia_scripted",
        input={"video": str(clip), "question": "What colour while silent?", "choices": ["red", "blue", "green"]},
        stream_mode=["custom", "updates"],
    ):
        if part.event == "custom":
            arrivals.append((time.monotonic() - start, part.data))
    end = time.monotonic() - start
    assert [d["iteration"] for _, d in arrivals] == [1, 2, 3]
    assert [d["score"] for _, d in arrivals] == [3, 5, 8]
    assert [d["stop_reason"] for _, d in arrivals] == [None, None, "threshold"] and arrivals[-1][1]["best_iteration"] == 3
    assert arrivals[0][0] < end - 1.5, "the first iteration's update came only at the end"
    state = client.threads.get_state(thread["thread_id"])
    assert state["values"]["answer"] == "green" and not state["next"]


def test_review_interrupt_and_resume(server, clip):
    client, _ = server
    # settings live on an assistant (what Studio's assistant panel edits), so every run and resume gets them
    reviewed = client.assistants.create("aurelia_scripted", context={"review": True, "threshold": 7}, name="reviewed")["assistant_id"]
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, reviewed, input={"video": str(clip), "question": "Colour?", "choices": ["red", "blue", "green"]})
    state = client.threads.get_state(thread)
    assert state["next"] == ["review"]
    request = state["interrupts"][0]["value"]
    assert request["best_iteration"] == 3 and [t["score"] for t in request["trajectory"]] == [3, 5, 8]
    assert request["reasoning_star"]["final_answer"] == "green"
    # an unusable decision re-asks, with the reason; nothing is lost
    client.runs.wait(thread, reviewed, command={"resume": {"action": "maybe"}})
    state = client.threads.get_state(thread)
    assert state["next"] == ["review"] and "unrecognised review decision" in state["interrupts"][0]["value"]["error"]
    edited = {"steps": [{"step": "Watch the last third", "answer": "green"}], "final_answer": "green"}
    # a resume that names the bare graph (no review in its context) still honours the pending review
    final = client.runs.wait(thread, "aurelia_scripted", command={"resume": {"action": "edit", "reasoning": edited}})
    assert final["review"]["action"] == "edited" and final["reasoning_star"] == edited
    assert final["answer"] == "green" and "Watch the last third" in final["target"]["injected"]


def test_bench_run_sends_the_reasoning_to_the_server(server, clip, tmp_path, monkeypatch):
    from test_bench_runner import results, write_manifest

    from aurelia.bench import run_benchmark
    from aurelia.testing.chat import TimedFakeChat, agent_models

    client, log = server
    url = str(client.http.client.base_url).rstrip("/")
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2_pt_never_sent_to_the_server_0123")  # without --server-send-keys: not sent
    monkeypatch.setenv("AURELIA_SERVER_TOKEN", TOKENS["alice"])  # the user's token for this server: sent
    manifest = write_manifest(tmp_path, clip, 3)
    args = dict(cache=tmp_path / "cache.sqlite", concurrency=3)
    first = run_benchmark(
        manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", server=url, server_graph="aurelia_bench_reasoning", **args
    )
    assert first.counts.reasoning_generated == 3 and first.counts.agent_calls == 3 * 6  # scores 4 then 8: two iterations each
    rows = results(tmp_path / "run")
    assert len(rows) == 6 and all(r["correct"] for r in rows), log.read_text()[-2000:]
    assert {r["iterations_used"] for r in rows if r["inject"] == "steps"} == {2}
    local = agent_models()  # the same cache serves a local run: no server, no agent call
    again = run_benchmark(manifest, {"u": TimedFakeChat(responses=["C"])}, tmp_path / "run2", models=local, **args)
    assert again.counts.reasoning_cached == 0  # model instances are part of the key: these are other agents
    plain = run_benchmark(manifest, {"u": TimedFakeChat(responses=["C"])}, tmp_path / "run3", **args)
    assert plain.counts.reasoning_cached == 3 and plain.counts.agent_calls == 0
    with pytest.raises(InputError, match="has no graph 'nope'"):
        run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run4", server=url, server_graph="nope", **args)


@pytest.mark.llm
def test_embedded_model_run_does_not_block_the_event_loop(server):
    client, log = server
    thread = client.threads.create()["thread_id"]
    run = client.runs.create(
        thread,
        "aurelia",
        input={"video": str(sample_clip()), "question": SAMPLE_QUESTION, "choices": SAMPLE_CHOICES},
        context={"max_iterations": 1, "max_tokens": 16},
    )
    client.runs.join(thread, run["run_id"])
    assert client.runs.get(thread, run["run_id"])["status"] == "success", log.read_text()[-3000:]
    values = client.threads.get_state(thread)["values"]
    assert values["target"]["model"] == "local" and len(values["iterations"]) == 1
    calls = [c["model"] for c in values["calls"]]
    assert set(calls) == {"local"} and 4 <= len(calls) <= 5  # a fifth when an unusable score is re-asked
    text = log.read_text()
    assert "Blocking call" not in text and "BlockingError" not in text


def test_served_runs_refuse_other_models_and_paths_outside_the_media_root(server, clip):
    client, log = server
    attempts = [
        ({"video": str(clip), "question": "Colour?"}, {"generator_model": "http://127.0.0.1:9/v1?model=steal-the-key"}),
        ({"video": "/etc/passwd", "question": "Colour?"}, {}),
        ({"video": "/etc/no-such-file.mp4", "question": "Colour?"}, {}),
        ({"video": str(clip), "question": "Colour?"}, {"review": "no"}),
    ]
    errors = []
    for inputs, context in attempts:
        thread = client.threads.create()["thread_id"]
        out = client.runs.wait(thread, "aurelia", input=inputs, context=context, raise_error=False)
        assert "__error__" in out
        (task,) = client.threads.get_state(thread)["tasks"]  # the prepare node's error, as Studio shows it
        assert task["name"] == "prepare"
        errors.append(task["error"])
    assert "generator_model 'http://127.0.0.1:9/v1?model=steal-the-key' is not allowed by this deployment" in errors[0]
    # an existing file and a missing one outside the root: the same answer
    assert errors[1].replace("/etc/passwd", "X") == errors[2].replace("/etc/no-such-file.mp4", "X")
    assert "not allowed: give a file under the media root" in errors[1]
    assert "review: input should be a valid boolean, got 'no'" in errors[3]
    typo = client.runs.wait(
        None, "aurelia", input={"video": str(clip), "question": "Colour?"}, context={"threshhold": 9}, raise_error=False
    )
    assert "no setting 'threshhold' (did you mean 'threshold'?)" in str(typo)  # not dropped silently by the server
    assert "resolves to /etc/passwd" in log.read_text()  # the details are in the server's log only


def test_threads_belong_to_their_user(server, clip):
    client, _ = server
    alice, bob = user_client(client, "alice"), user_client(client, "bob")
    # a client cannot plant a thread in another user's list: the server sets the owner
    mine = alice.threads.create(metadata={"owner": "bob", "label": "alice's"})["thread_id"]
    alice.runs.wait(mine, "aurelia", input={"video": "missing.mp4", "question": "Colour?"}, raise_error=False)  # a run, with its context
    theirs = bob.threads.create()["thread_id"]
    assert alice.threads.get(mine)["metadata"]["owner"] == "alice"
    assert mine in {t["thread_id"] for t in alice.threads.search(limit=1000)}
    seen_by_bob = {t["thread_id"] for t in bob.threads.search(limit=1000)}
    assert theirs in seen_by_bob and mine not in seen_by_bob
    for attempt in (
        lambda: bob.threads.get(mine),
        lambda: bob.threads.get_state(mine),
        lambda: bob.threads.get_history(mine),
        lambda: bob.threads.update(mine, metadata={"label": "bob's now"}),
        lambda: bob.runs.list(mine),
        lambda: bob.runs.wait(mine, "aurelia", input={"video": str(clip), "question": "Colour?"}),
        lambda: bob.threads.delete(mine),
    ):
        with pytest.raises(httpx.HTTPStatusError) as info:
            attempt()
        assert info.value.response.status_code == 404
    assert alice.threads.get(mine)["metadata"]["label"] == "alice's"  # nothing bob did landed
    with pytest.raises(httpx.HTTPStatusError) as info:
        alice.threads.get(theirs)
    assert info.value.response.status_code == 404
    # the graphs' own assistants are everyone's; one a user makes is theirs
    assert {a["graph_id"] for a in bob.assistants.search()} >= {"aurelia", "aurelia_reasoning"}
    made = alice.assistants.create("aurelia_scripted", context={"threshold": 7}, name="alice's")["assistant_id"]
    assert made not in {a["assistant_id"] for a in bob.assistants.search(limit=1000)}


@pytest.mark.parametrize(("user", "token"), [(None, None), (None, "not-a-listed-token-0123456789")])
def test_a_missing_or_wrong_token_is_refused(server, user, token):
    client, _ = server
    anonymous = user_client(client, user, token)
    for attempt in (anonymous.assistants.search, anonymous.threads.create, lambda: anonymous.threads.search(limit=10)):
        with pytest.raises(httpx.HTTPStatusError) as info:
            attempt()
        assert info.value.response.status_code == 401
    # the bearer scheme works as well as x-api-key
    bearer = get_sync_client(
        url=str(client.http.client.base_url).rstrip("/"), api_key=None, headers={"Authorization": f"Bearer {TOKENS['bob']}"}
    )
    assert bearer.threads.create()["metadata"]["owner"] == "bob"


def test_credentialed_model_urls_are_refused_before_they_are_stored(server, clip):
    client, log = server
    secret = "pa@ssW0rd-never-stored"
    url = f"http://bob:{secret}@127.0.0.1:9/v1?model=m"
    thread = client.threads.create()["thread_id"]
    for attempt in (
        lambda: client.runs.wait(thread, "aurelia", input={"video": str(clip), "question": "Colour?"}, context={"generator_model": url}),
        lambda: client.runs.wait(None, "aurelia", input={"video": str(clip), "question": "Colour?"}, context={"target_model": url}),
        lambda: client.assistants.create(
            "aurelia", context={"evaluator_model": url.replace("bob:" + secret + "@", "") + f"&api_key={secret}"}
        ),
    ):
        with pytest.raises(httpx.HTTPStatusError) as info:
            attempt()
        assert info.value.response.status_code == 403 and "no credentials" in info.value.response.text
    assert client.runs.list(thread) == []  # no run was stored with it
    assert secret not in log.read_text()
