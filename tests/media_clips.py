"""Helpers for the media tests: broken files built from good ones, with known defects."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest

from aurelia.testing.clips import CAN_WRITE_ROTATION, NO_ROTATION_WRITE, Segment, make_clip

RGB = [Segment(2, (220, 30, 30), 440.0), Segment(2, (30, 60, 220), 880.0), Segment(2, (40, 200, 60), None)]
RGB_CUTS = [2.0, 4.0]

# PyAV features a few tests need beyond the oldest supported release (14.1), each naming the release that
# added it. The runtime code feature-detects both (without the index a scan assumes a keyframe interval).
needs_index_entries = pytest.mark.skipif(
    not hasattr(av.stream.Stream, "index_entries"),
    reason=f"reads the keyframe index: Stream.index_entries needs PyAV >= 17 (this is {av.__version__})",
)
needs_rotation_write = pytest.mark.skipif(not CAN_WRITE_ROTATION, reason=f"{NO_ROTATION_WRITE} (this is {av.__version__})")


def truncated_copy(src: Path, dst: Path, keep: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def unknown_codec_wav(path: Path) -> Path:
    """A WAV whose format tag (0x1234) no FFmpeg decoder knows."""
    data = b"\x00" * 1600
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def absurd_duration_mkv(path: Path) -> Path:
    """A valid 1 s Matroska file whose header claims a duration of about 31 years."""
    make_clip(path, [Segment(1, (200, 0, 0), None)], video_codec="mjpeg", pix_fmt="yuvj420p", audio_codec=None)
    data = bytearray(path.read_bytes())
    i = data.find(b"\x44\x89\x88")  # Duration element, 8-byte float
    assert i > 0
    data[i + 3 : i + 11] = struct.pack(">d", 1e12)
    path.write_bytes(bytes(data))
    return path
