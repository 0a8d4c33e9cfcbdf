"""Shared fixtures: synthetic clips with known content, written with PyAV."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# A developer's shell may have LangSmith tracing on: tests never send traces anywhere (the
# tracing tests point the real client at a local server themselves). Set before anything
# imports langsmith, which caches what it reads from the environment.
os.environ["LANGSMITH_TRACING"] = "false"
for _var in ("LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
    os.environ.pop(_var, None)

import leak_check  # noqa: E402 - found through the path above

from aurelia.testing.clips import Segment, make_clip, write_audio_file  # noqa: E402 - after the tracing switch

# red + 440 Hz for 2 s, blue + 880 Hz for 2 s, green + silence for 2 s
SEGMENTS = [Segment(2, (220, 30, 30), 440.0), Segment(2, (30, 60, 220), 880.0), Segment(2, (40, 200, 60), None)]


def pytest_configure(config: pytest.Config) -> None:
    leak_check.pytest_configure(config)  # a test that leaves a thread or a listening socket behind fails


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "rgb.mp4", SEGMENTS)


@pytest.fixture(scope="session")
def silent_clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "silent.mp4", SEGMENTS, audio_codec=None)


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory) -> Path:
    return write_audio_file(tmp_path_factory.mktemp("clips") / "tone.wav", [Segment(3, (0, 0, 0), 660.0)])


@pytest.fixture()
def waits(monkeypatch) -> list[float]:
    """The retry policy's waits, recorded instead of slept (sync and async calls alike)."""
    from aurelia.models import retry

    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(retry, "sleep", recorded.append)
    monkeypatch.setattr(retry, "async_sleep", record)
    return recorded


@pytest.fixture
def requested_on(monkeypatch) -> list[str]:
    """The name of the thread each async model request is sent from (hosted models' loop transport)."""
    import threading

    from aurelia.models.retry import LoopTransport

    names: list[str] = []
    handle = LoopTransport.handle_async_request

    async def recording(self, request):
        names.append(threading.current_thread().name)
        return await handle(self, request)

    monkeypatch.setattr(LoopTransport, "handle_async_request", recording)
    return names
