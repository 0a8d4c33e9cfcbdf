"""Probe a media file with PyAV: container, streams, duration, content hash.

Every failure becomes a :class:`MediaError` naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import av

from aurelia.errors import MediaError

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    duration_s: float


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    size_bytes: int
    sha256: str
    duration_s: float
    video: VideoInfo | None
    audio: AudioInfo | None

    def to_dict(self) -> dict:
        return asdict(self)


def file_sha256(path: str | os.PathLike) -> str:
    """Content hash, streamed in 1 MiB chunks so large files never sit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_readable_file(path: str | os.PathLike) -> Path:
    """Raise a MediaError unless ``path`` is an existing, non-empty, readable regular file."""
    p = Path(path)
    if not p.exists():
        raise MediaError("file not found", path=str(path))
    if p.is_dir():
        raise MediaError("is a directory, not a media file", path=str(path))
    if not os.access(p, os.R_OK):
        raise MediaError("file is not readable (permission denied)", path=str(path))
    if p.stat().st_size == 0:
        raise MediaError("file is empty (0 bytes)", path=str(path))
    return p


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open with PyAV, turning FFmpeg's errors into a MediaError."""
    p = check_readable_file(path)
    try:
        return av.open(str(p), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise MediaError(f"not a readable media file ({exc.strerror or exc})", path=str(path)) from exc


def _seconds(value, time_base) -> float:
    return float(value * time_base) if value is not None and time_base is not None else 0.0


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read the container's facts; raises MediaError when no audio or video stream is usable."""
    with open_container(path) as container:
        container_duration = container.duration / av.time_base if container.duration else 0.0
        video = audio = None
        if container.streams.video:
            vs = container.streams.video[0]
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            fps = float(rate) if rate else 0.0
            vdur = _seconds(vs.duration, vs.time_base) or container_duration
            if vs.codec_context.width and vs.codec_context.height:
                video = VideoInfo(
                    codec=vs.codec_context.name,
                    width=vs.codec_context.width,
                    height=vs.codec_context.height,
                    fps=round(fps, 3),
                    duration_s=round(vdur, 3),
                )
        if container.streams.audio:
            st = container.streams.audio[0]
            adur = _seconds(st.duration, st.time_base) or container_duration
            audio = AudioInfo(
                codec=st.codec_context.name,
                sample_rate=st.codec_context.sample_rate or 0,
                channels=st.codec_context.channels or 0,
                duration_s=round(adur, 3),
            )
        fmt = container.format.name
    if video is None and audio is None:
        raise MediaError("no usable audio or video stream", path=str(path))
    duration = max(video.duration_s if video else 0.0, audio.duration_s if audio else 0.0)
    return MediaInfo(
        path=str(path),
        container=fmt,
        size_bytes=Path(path).stat().st_size,
        sha256=file_sha256(path),
        duration_s=round(duration or container_duration, 3),
        video=video,
        audio=audio,
    )
