"""Turn a (video, audio) pair into a small, serialisable media reference for the graph state.

The state holds paths, hashes, probe facts, keyframe times and the digest text — never bytes.
Results are cached per process by content hash and settings.
"""

from __future__ import annotations

from functools import lru_cache

from aurelia.errors import MediaError
from aurelia.media.audio import analyse, load_audio
from aurelia.media.digest import render_digest
from aurelia.media.keyframes import scan_keyframes
from aurelia.media.probe import MediaInfo, probe


def prepare_media(video: str, audio: str | None = None, num_frames: int = 5) -> dict:
    """Probe and measure the media; returns the ``media`` entry of the graph state."""
    info = probe(video)
    audio_info = probe(audio) if audio else None
    if info.video is None:
        raise MediaError("no video stream (an audio-only file was given as the video)", path=video)
    if audio_info is not None and audio_info.audio is None:
        raise MediaError("no audio stream in the separate audio file", path=audio)
    return dict(_prepare_cached(info, audio_info, num_frames))


@lru_cache(maxsize=64)
def _prepare_cached(info: MediaInfo, audio_info: MediaInfo | None, num_frames: int) -> tuple:
    scan = scan_keyframes(info.path, max_frames=num_frames)
    audio_src = audio_info or (info if info.audio else None)
    analysis = None
    audio_truncated = False
    if audio_src is not None:
        wave_, audio_truncated = load_audio(audio_src.path)
        analysis = analyse(wave_)
    digest = render_digest(info, scan, analysis, audio_source="separate audio file" if audio_info else None)
    ref = {
        "video": info.path,
        "audio": audio_info.path if audio_info else None,
        "sha256": info.sha256,
        "audio_sha256": audio_info.sha256 if audio_info else None,
        "info": info.to_dict(),
        "audio_info": audio_info.to_dict() if audio_info else None,
        "has_audio": audio_src is not None,
        "keyframe_times": [round(t, 3) for t in scan.times],
        "truncated": scan.truncated or audio_truncated,
        "digest": digest,
    }
    return tuple(ref.items())
