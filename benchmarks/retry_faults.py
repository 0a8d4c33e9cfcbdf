"""Attempts per logical model call, for each fault a provider can throw at us.

Starts the fault-injecting OpenAI-compatible server of ``aurelia.testing.faults`` on 127.0.0.1
and makes one plain-text call (summarizer-like) and one structured call (evaluator-like) per
fault, with real waits (backoff, ``Retry-After``) and a 1-second request timeout. Prints, per
fault: the HTTP requests the server saw, the attempts the call record counts, the outcome and
the wall time. The baseline row is the healthy server.

    python benchmarks/retry_faults.py [--timeout 1.0]
"""

from __future__ import annotations

import argparse
import time

from langchain_core.messages import HumanMessage

from aurelia.errors import ModelCallError
from aurelia.models.registry import resolve_model
from aurelia.models.structured import call_structured, call_text
from aurelia.parsing import parse_evaluation
from aurelia.schemas import Evaluation
from aurelia.testing.faults import FaultServer

FAULTS = [
    ("healthy (baseline)", ["ok"]),
    ("429 Retry-After: 1, then ok", ["429:1", "ok"]),
    ("429 Retry-After: 600", ["429:600", "ok"]),
    ("500, then ok", ["500", "ok"]),
    ("503 always", ["503"]),
    ("hang once, then ok", ["hang", "ok"]),
    ("hang always", ["hang"]),
    ("slow 0.5 s", ["slow:0.5"]),
    ("dropped connection, then ok", ["drop", "ok"]),
    ("truncated body, then ok", ["truncated", "ok"]),
    ("malformed JSON body", ["malformed", "ok"]),
    ("empty completion", ["empty"]),
    ("400 bad request", ["400", "ok"]),
    ("401 bad key", ["401", "ok"]),
]
EVALUATION = '{"score": 7, "rationale": "matches"}'


def one(server: FaultServer, name: str, script: list[str], structured: bool, timeout: float) -> tuple[int, int, str, float]:
    model = f"{'s' if structured else 't'}-{FAULTS.index((name, script))}"
    server.script(model, script, EVALUATION)
    rm = resolve_model(server.url(model), timeout, False)
    messages = [HumanMessage("Score the caption.")]
    start = time.perf_counter()
    try:
        if structured:
            result = call_structured(rm, messages, Evaluation, parse_evaluation)
            outcome, attempts = f"{result.status}", result.attempts
        else:
            result = call_text(rm, messages)
            outcome, attempts = "ok" if result.value else "empty reply", result.attempts
    except ModelCallError as exc:
        outcome, attempts = "error: " + str(exc).split(" failed", 1)[1].strip()[:110], exc.attempts
    return server.count(model), attempts, outcome, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1.0, help="request timeout in seconds")
    args = parser.parse_args()
    print(f"request timeout {args.timeout:g}s, at most 3 attempts per request, backoff 0.5 s x 2^n with full jitter\n")
    print(f"{'fault':32} {'call':10} {'requests':>8} {'attempts':>8} {'seconds':>8}  outcome")
    with FaultServer() as server:
        for name, script in FAULTS:
            for structured in (False, True):
                requests, attempts, outcome, seconds = one(server, name, script, structured, args.timeout)
                kind = "structured" if structured else "text"
                print(f"{name:32} {kind:10} {requests:8d} {attempts:8d} {seconds:8.2f}  {outcome}")


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(main, "docs/performance.md")
