"""Turn a (video, audio) pair into a small, serialisable media reference for the graph state.

The state holds paths, hashes, probe facts, keyframe times and the digest text — never bytes.
Results are cached per process (a bounded LRU) by each file's identity from ``stat`` (device,
inode, size, change times) and the settings: a clip measured once is not hashed or probed again
until it changes. Failures are not cached (the next call measures again).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from string import ascii_uppercase

from aurelia.errors import MediaError
from aurelia.media.audio import analyse_file
from aurelia.media.digest import render_digest
from aurelia.media.keyframes import ScanMode, scan_keyframes
from aurelia.media.probe import FileIdentity, MediaInfo, file_identity, probe
from aurelia.media.ref import MediaRef

MAX_AUDIO_SECONDS = 3600.0  # audio beyond this is not measured (the digest says so); work stays bounded
CACHE_SIZE = 1024  # clips remembered per process: above a run's samples in flight (the bench's media step and graph's prepare share it)


def prepare_media(
    video: str,
    audio: str | None = None,
    num_frames: int = 5,
    *,
    audio_candidates: list[str] | None = None,
    mode: ScanMode = "auto",
    max_audio_seconds: float | None = MAX_AUDIO_SECONDS,
    allow_audio_only: bool = False,
) -> MediaRef:
    """Probe and measure the media; returns the ``media`` entry of the graph state.

    With ``allow_audio_only``, ``video`` may be an audio-only file (no keyframes then); the graph
    needs a video, so by default that is an error. ``audio`` is a separate track
    for a silent video. ``audio_candidates`` are alternative clips a question asks to choose
    between (Dance-Music matching gives four); each is measured and labelled A, B, C...
    ``mode="fast"`` reads only the video's own keyframes (for long inputs)."""
    if num_frames < 1:
        raise MediaError(f"num_frames must be at least 1, got {num_frames}", path=video)
    if len(audio_candidates or ()) > len(ascii_uppercase):  # before any file is opened or hashed
        raise MediaError(f"at most {len(ascii_uppercase)} candidate audio clips, got {len(audio_candidates or ())}", path=video)
    identities = (
        file_identity(video),
        file_identity(audio) if audio else None,
        tuple(file_identity(p) for p in audio_candidates or ()),
    )
    return copy.deepcopy(MediaRef(_prepare_cached(*identities, num_frames, mode, max_audio_seconds, allow_audio_only)))


def _probed(
    video: FileIdentity, audio: FileIdentity | None, candidates: tuple[FileIdentity, ...], allow_audio_only: bool
) -> tuple[MediaInfo, MediaInfo | None, tuple[MediaInfo, ...]]:
    """Each file probed (and hashed), with the streams the question needs checked."""
    info = probe(video[0])
    if info.video is None and not allow_audio_only:
        raise MediaError("no video stream (an audio-only file was given as the video)", path=video[0])
    audio_info = probe(audio[0]) if audio else None
    if audio_info is not None and audio_info.audio is None:
        raise MediaError("no audio stream in the separate audio file", path=audio[0])
    cands = tuple(probe(c[0]) for c in candidates)
    for c in cands:
        if c.audio is None:
            raise MediaError("no audio stream in the candidate audio clip", path=c.path)
    return info, audio_info, cands


@lru_cache(maxsize=CACHE_SIZE)
def _prepare_cached(
    video: FileIdentity,
    audio: FileIdentity | None,
    candidates: tuple[FileIdentity, ...],
    num_frames: int,
    mode: ScanMode,
    max_audio_seconds: float | None,
    allow_audio_only: bool,
) -> tuple:
    """The measured reference as a tuple of items (what the cache holds); probes and measures only
    on a miss. An exception is not cached, so a failed clip is measured again when asked again."""
    info, audio_info, cands = _probed(video, audio, candidates, allow_audio_only)
    scan = scan_keyframes(info.path, max_frames=num_frames, mode=mode) if info.video else None
    audio_src = audio_info or (info if info.audio else None)
    analysis = None
    audio_truncated = False
    if audio_src is not None:
        analysis, audio_truncated = analyse_file(audio_src.path, max_seconds=max_audio_seconds)
    labelled = []
    candidates = []
    for letter, c in zip(ascii_uppercase, cands, strict=False):
        a, truncated = analyse_file(c.path, max_seconds=max_audio_seconds)
        audio_truncated |= truncated
        labelled.append((f"Audio option {letter}", a))
        candidates.append({"label": letter, "path": c.path, "sha256": c.sha256, "info": c.to_dict()})
    digest = render_digest(info, scan, analysis, audio_source="separate audio file" if audio_info else None, candidates=labelled)
    trimmed = [p.path for p in (audio_src, *cands) if p is not None and max_audio_seconds and p.duration_s > max_audio_seconds]
    if trimmed:
        digest += f"\nNote: audio was measured over its first {max_audio_seconds:g}s only."
    ref: MediaRef = {
        "video": info.path,
        "audio": audio_info.path if audio_info else None,
        "sha256": info.sha256,
        "audio_sha256": audio_info.sha256 if audio_info else None,
        "info": info.to_dict(),
        "audio_info": audio_info.to_dict() if audio_info else None,
        "kind": info.kind,
        "has_video": info.video is not None,
        "has_audio": audio_src is not None,
        "audio_candidates": candidates,
        "keyframe_times": [round(t, 3) for t in scan.times] if scan else [],
        "cut_times": scan.cut_times if scan else [],
        "scan_mode": mode,
        "video_truncated": bool(scan and scan.truncated),
        "audio_truncated": audio_truncated,
        "truncated": bool(scan and scan.truncated) or audio_truncated,
        "digest": digest,
    }
    return tuple(ref.items())
