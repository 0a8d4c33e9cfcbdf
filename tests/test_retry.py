"""One retry policy, for transient faults only, against a real OpenAI-compatible server on
127.0.0.1 that injects each fault (aurelia.testing.faults): what is retried, how often, how long
it waits, and what one logical call costs in requests. The waits are recorded, not slept."""

from __future__ import annotations

import threading
import time

import pytest
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from aurelia.cli import app
from aurelia.errors import ModelCallError
from aurelia.models import retry
from aurelia.models.registry import resolve_model
from aurelia.models.retry import CallLimits, call_with_retry, is_transient, retry_after
from aurelia.models.structured import call_structured, call_text
from aurelia.parsing import parse_evaluation
from aurelia.schemas import Evaluation
from aurelia.targets import TargetSample
from aurelia.targets.chat import ChatTarget
from aurelia.testing.faults import FaultServer

EVALUATION = '{"score": 7, "rationale": "the caption matches"}'


@pytest.fixture(scope="module")
def server():
    with FaultServer() as srv:
        yield srv


def model(server: FaultServer, name: str, behaviours: list[str], reply: str = "fine", timeout: float = 2.0):
    server.script(name, behaviours, reply)
    return resolve_model(server.url(name), timeout, False)


@pytest.mark.parametrize(
    ("name", "behaviours", "requests", "outcome"),
    [
        ("ok", ["ok"], 1, "fine"),
        ("rate-limited", ["429", "ok"], 2, "fine"),
        ("server-error", ["500", "ok"], 2, "fine"),
        ("unavailable", ["503", "503", "ok"], 3, "fine"),
        ("always-503", ["503"], 3, "failed after 3 attempts"),
        ("hangs-once", ["hang", "ok"], 2, "fine"),
        ("always-hangs", ["hang"], 3, "timed out"),
        ("slow", ["slow:0.3", "ok"], 1, "fine"),
        ("dropped", ["drop", "ok"], 2, "fine"),
        ("truncated", ["truncated", "ok"], 2, "fine"),
        ("malformed", ["malformed", "ok"], 1, "JSONDecodeError"),
        ("empty", ["empty"], 1, ""),
        ("bad-request", ["400", "ok"], 1, "Error code: 400"),
        ("bad-key", ["401", "ok"], 1, "Error code: 401"),
        ("asks-too-long", ["429:600", "ok"], 1, "asks to retry after 600s"),
    ],
)
def test_each_fault(server, waits, name, behaviours, requests, outcome):
    rm = model(server, name, behaviours, timeout=0.5 if "hang" in name else 5.0)
    try:
        result = call_text(rm, [HumanMessage("hi")])
        got, attempts = result.value, result.attempts
    except ModelCallError as exc:
        got, attempts = str(exc), exc.attempts
        assert str(exc).startswith(f"model '{server.url(name)}' failed") and "\n" not in str(exc)
    assert server.count(name) == requests == attempts
    assert outcome in got if outcome else got == ""
    assert len(waits) == requests - 1 if "fine" == outcome else len(waits) <= requests - 1


def test_retry_after_is_honoured(server, waits):
    rm = model(server, "after-3", ["429:3", "ok"])
    assert call_text(rm, [HumanMessage("hi")]).attempts == 2
    assert waits and waits[0] >= 3.0  # never sooner than the server asked
    rm = model(server, "backoff", ["503", "503", "ok"])
    call_text(rm, [HumanMessage("hi")])
    assert all(0 <= w <= retry.MAX_DELAY_S for w in waits[1:])


def test_one_structured_call_makes_at_most_three_requests(server, waits):
    rm = model(server, "struct-503", ["503"], EVALUATION)
    with pytest.raises(ModelCallError, match="after 3 attempts"):
        call_structured(rm, [HumanMessage("score it")], Evaluation, parse_evaluation)
    assert server.count("struct-503") == 3  # not structured x plain x repair x retries (12 before)
    rm = model(server, "struct-flaky", ["503", "ok"], EVALUATION)
    result = call_structured(rm, [HumanMessage("score it")], Evaluation, parse_evaluation)
    assert result.status == "structured" and result.value.score == 7 and result.attempts == 2


def test_a_server_that_rejects_structured_output_gets_plain_text(server, waits):
    rm = model(server, "no-tools", ["400", "ok"], "Score: 6/10, close enough")
    result = call_structured(rm, [HumanMessage("score it")], Evaluation, parse_evaluation)
    assert result.status == "parsed" and result.value.score == 6 and result.attempts == 2 and not waits


def test_empty_completion_is_repaired_once_then_failed(server, waits):
    rm = model(server, "mute", ["empty"])
    result = call_structured(rm, [HumanMessage("score it")], Evaluation, parse_evaluation)
    assert result.status == "failed" and result.value is None and result.attempts == 2 == server.count("mute")


def test_budget_is_checked_before_every_attempt(server, waits, monkeypatch):
    rm = model(server, "budget", ["ok"])
    spent = CallLimits(deadline=time.monotonic() - 1, budget_s=5)
    with pytest.raises(ModelCallError, match="time budget of 5s is spent"):
        call_with_retry(lambda: rm.model.invoke("hi"), spent, "m")
    assert server.count("budget") == 0
    monkeypatch.setattr(retry, "backoff", lambda attempt, asked: 60.0)  # a wait longer than the budget left
    failing = model(server, "budget-503", ["503"])
    ending = CallLimits(deadline=time.monotonic() + 30, budget_s=30)
    with pytest.raises(ModelCallError, match="budget ends before the next try"):
        call_with_retry(lambda: failing.model.invoke("hi"), ending, "m")
    assert server.count("budget-503") == 1 and not waits


def test_classification_and_retry_after_forms():
    class Status(Exception):
        def __init__(self, status: int, headers: dict | None = None) -> None:
            self.status_code = status
            self.response = type("R", (), {"headers": headers or {}, "status_code": status})()

    assert [is_transient(Status(s)) for s in (408, 429, 500, 503, 400, 401, 403, 404, 422)] == [True] * 4 + [False] * 5
    assert is_transient(TimeoutError()) and is_transient(ConnectionResetError()) and not is_transient(ValueError("bad input"))
    assert not is_transient(ModelCallError("context window exceeded"))  # a local, deterministic failure
    assert retry_after(Status(429, {"retry-after": "2.5"})) == 2.5
    assert retry_after(Status(429, {"retry-after-ms": "1500"})) == 1.5
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after(Status(429, {"retry-after": http_date})) <= 31


def test_chat_target_retries_and_records_attempts(server, waits, clip):
    from aurelia.media.prepare import prepare_media

    target = ChatTarget.from_string(server.url("target-flaky"))
    server.script("target-flaky", ["429:0", "ok"], "C")
    sample = TargetSample(prepare_media(str(clip)), "Colour?", ["red", "blue", "green"])
    (answer,) = target.answer_batch([sample])
    assert answer.letter == "C" and answer.attempts == 2 and answer.error is None
    server.script("target-dead", ["401"])
    (failed,) = ChatTarget.from_string(server.url("target-dead")).answer_batch([sample])
    assert failed.attempts == 1 and "Error code: 401" in failed.error


def test_a_hung_provider_ends_the_cli_run_with_one_line(server, waits, clip):
    server.script("cli-hang", ["hang"])
    before = set(threading.enumerate())
    result = CliRunner().invoke(
        app,
        ["run", str(clip), "-q", "what?", "--max-iterations", "1", "--generator", server.url("cli-hang"), "--timeout", "0.3", "--quiet"],
    )
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "failed after 3 attempts" in lines[0] and "timed out" in lines[0].lower(), result.output
    assert server.count("cli-hang") == 3

    def left() -> list[threading.Thread]:  # besides the fault server's own hung handlers
        return [t for t in threading.enumerate() if t not in before and "process_request" not in t.name]

    deadline = time.monotonic() + 5
    while left() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left()  # no worker left blocked on the hung socket


@pytest.mark.parametrize(
    ("raw", "retries_field", "timeout_field"),
    [
        ("openai:gpt-4o", "max_retries", "request_timeout"),
        ("anthropic:claude-sonnet-4-5", "max_retries", "default_request_timeout"),
        ("google_genai:gemini-2.5-flash", "max_retries", "timeout"),
    ],
)
def test_provider_clients_have_the_timeout_and_no_retries_of_their_own(monkeypatch, raw, retries_field, timeout_field):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.setenv(key, "test-key")  # nothing is called: only the clients are built
    built = resolve_model(raw, 7.0, True).model
    assert getattr(built, retries_field) == 0 and getattr(built, timeout_field) == 7.0


def test_the_run_budget_bounds_each_run_and_restarts_with_the_next(clip):
    from fakes import REASONING_JSON, fake

    from aurelia import Context, build_graph
    from aurelia.run import run

    def models():
        return {
            "generator": fake(REASONING_JSON),
            "summarizer": fake("green"),
            "evaluator": fake('{"score": 9, "rationale": "ok"}'),
            "target": fake("C"),
        }

    stale = Context(run_budget=60)
    object.__setattr__(stale, "_started", time.monotonic() - 3600)  # a context whose run began an hour ago
    with pytest.raises(ModelCallError, match="time budget of 60s is spent"):
        build_graph(models=models()).invoke({"video": str(clip), "question": "Colour?"}, context=stale)
    assert run(clip, "Colour?", context=stale, models=models())["answer"] == "C"  # a new run: a new clock
