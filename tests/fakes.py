"""LangChain fake chat models that also record what they were sent."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage


class RecordingFakeChat(FakeListChatModel):
    """``FakeListChatModel`` (replies in order, cycling) that keeps every prompt it received."""

    seen: list[list[BaseMessage]] = []  # noqa: RUF012 - a pydantic field: each instance gets its own copy

    def _call(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any) -> str:
        self.seen.append(list(messages))
        return super()._call(messages, stop=stop, run_manager=run_manager, **kwargs)


def fake(*responses: str) -> RecordingFakeChat:
    return RecordingFakeChat(responses=list(responses), seen=[])


def block_types(messages: list[BaseMessage]) -> set[str]:
    """Types of content blocks across messages ('text' for plain string content)."""
    kinds: set[str] = set()
    for m in messages:
        if isinstance(m.content, str):
            kinds.add("text")
        else:
            kinds.update(b.get("type", "text") if isinstance(b, dict) else "text" for b in m.content)
    return kinds


def all_text(messages: list[BaseMessage]) -> str:
    parts = []
    for m in messages:
        if isinstance(m.content, str):
            parts.append(m.content)
        else:
            parts.extend(b.get("text", "") for b in m.content if isinstance(b, dict))
    return "\n".join(parts)


REASONING_JSON = (
    '{"steps": [{"step": "Look at the colour after 6s", "answer": "green"}, '
    '{"step": "Listen for silence", "answer": "silent from 6s"}], "final_answer": "green"}'
)
