"""Shared fixtures: synthetic clips with known content, written with PyAV."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from aurelia.media.synth import Segment, make_clip, write_audio_file

# red + 440 Hz for 2 s, blue + 880 Hz for 2 s, green + silence for 2 s
SEGMENTS = [Segment(2, (220, 30, 30), 440.0), Segment(2, (30, 60, 220), 880.0), Segment(2, (40, 200, 60), None)]


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "rgb.mp4", SEGMENTS)


@pytest.fixture(scope="session")
def silent_clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "silent.mp4", SEGMENTS, audio_codec=None)


@pytest.fixture(scope="session")
def tone_wav(tmp_path_factory) -> Path:
    return write_audio_file(tmp_path_factory.mktemp("clips") / "tone.wav", [Segment(3, (0, 0, 0), 660.0)])
