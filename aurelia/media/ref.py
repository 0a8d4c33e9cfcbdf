"""The media reference the graph state holds (built by :func:`aurelia.media.prepare.prepare_media`):
paths, content hashes, probe facts, keyframe times and the measured digest, never bytes.
Small accessors answer the questions several modules ask of it, in one way."""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict  # pydantic (Studio schemas) needs it on Python < 3.12


class AudioCandidate(TypedDict):
    """One candidate audio clip to choose between (Dance-Music matching), labelled A, B, C…"""

    label: str
    path: str
    sha256: str
    info: dict[str, Any]  # probe facts (MediaInfo.to_dict())


class MediaRef(TypedDict):
    video: str  # path of the video (or, where allowed, an audio-only file)
    audio: str | None  # a separate audio track for a silent video
    sha256: str
    audio_sha256: str | None
    info: dict[str, Any]  # probe facts of the video file
    audio_info: dict[str, Any] | None  # probe facts of the separate audio file
    kind: str
    has_video: bool
    has_audio: bool  # a track to listen to: the separate file or the video's own
    audio_candidates: list[AudioCandidate]
    keyframe_times: list[float]
    cut_times: list[float]
    scan_mode: str
    video_truncated: bool
    audio_truncated: bool
    truncated: bool
    digest: str


def audio_track(media: MediaRef) -> tuple[str, str] | None:
    """(path, sha256) of the audio that goes with the clip: the separate file, else the video's track."""
    if media["audio"]:
        return media["audio"], media["audio_sha256"] or media["sha256"]
    if media["has_audio"]:
        return media["video"], media["sha256"]
    return None


def track_seconds(info: dict[str, Any] | None) -> float:
    """The audio duration in probe facts (of an audio file, or of a video's audio stream)."""
    info = info or {}
    return float((info.get("audio") or {}).get("duration_s") or info.get("duration_s") or 0.0)


def video_seconds(media: MediaRef) -> float:
    """The video stream's duration (the container's when the stream does not say)."""
    info = media["info"]
    return float((info.get("video") or {}).get("duration_s") or info.get("duration_s") or 0.0)


def audio_facts(media: MediaRef) -> dict[str, Any]:
    """Probe facts of the track that is listened to."""
    return media["audio_info"] or media["info"]
