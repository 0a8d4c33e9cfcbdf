"""Graphs for the Studio test: the real Aurelia wiring with scripted agents (scores 3, 5, 8),
each call taking a moment, so a ``langgraph_sdk`` client can watch iterations arrive; and a
scripted reasoning-only graph for ``aurelia bench run --server``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel

sys.path.insert(0, str(Path(__file__).parent))

from fakes import REASONING_JSON

from aurelia.graph.builder import build_graph
from aurelia.testing.chat import agent_models


class SlowFake(FakeListChatModel):
    delay: float = 0.4

    def _call(self, *args: Any, **kwargs: Any) -> str:
        time.sleep(self.delay)
        return super()._call(*args, **kwargs)


graph = build_graph(
    models={
        "generator": SlowFake(responses=[REASONING_JSON]),
        "summarizer": SlowFake(responses=["Red with a tone, blue with beeps, then green and silent."]),
        "evaluator": SlowFake(
            responses=['{"score": 3, "rationale": "vague"}', '{"score": 5, "rationale": "closer"}', '{"score": 8, "rationale": "matches"}']
        ),
        "target": SlowFake(responses=["C"]),
    },
    name="aurelia-scripted",
)

reasoning_graph = build_graph(models=agent_models(scores=(4, 8)), reasoning_only=True, name="aurelia-bench-scripted")
