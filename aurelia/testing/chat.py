"""LangChain fake chat models that take a fixed time per call and count their calls.

For tests and benchmarks of the benchmark runner (concurrency, resume after a kill, calls
saved by the reasoning cache): a real ``FakeListChatModel`` (replies in order, cycling) that
sleeps ``delay`` seconds per call, as a remote model would, and counts calls across threads.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import PrivateAttr

REASONING = '{"steps": [{"step": "Note the colour of the last part", "answer": "green"}], "final_answer": "green"}'
CAPTION = "Red with a tone, then blue with beeps, then green and silent."


class TimedFakeChat(FakeListChatModel):
    """Scripted replies after ``delay`` seconds each; ``calls`` counts every call, ``active_max``
    the most calls in flight at once."""

    delay: float = 0.0
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _calls: int = PrivateAttr(default=0)
    _active: int = PrivateAttr(default=0)
    _active_max: int = PrivateAttr(default=0)

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def active_max(self) -> int:
        return self._active_max

    def _call(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        with self._lock:
            self._calls += 1
            self._active += 1
            self._active_max = max(self._active_max, self._active)
            reply = super()._call(messages, stop=stop, run_manager=run_manager, **kwargs)
        try:
            time.sleep(self.delay)
        finally:
            with self._lock:
                self._active -= 1
        return reply


def agent_models(
    delay: float = 0.0, scores: tuple[int, ...] = (8,), reasonings: tuple[str, ...] = (REASONING,)
) -> dict[str, TimedFakeChat]:
    """Generator, summarizer and evaluator for the reasoning-only graph; the evaluator gives
    ``scores`` in turn (as ``{"score", "rationale"}`` JSON)."""
    evaluations = [f'{{"score": {s}, "rationale": "scripted"}}' for s in scores]
    return {
        "generator": TimedFakeChat(responses=list(reasonings), delay=delay),
        "summarizer": TimedFakeChat(responses=[CAPTION], delay=delay),
        "evaluator": TimedFakeChat(responses=evaluations, delay=delay),
    }


def calls_of(models: dict[str, TimedFakeChat]) -> int:
    return sum(m.calls for m in models.values())
