"""Decoded media for local models: uniformly sampled video frames, keyframes and waveforms.

transformers cannot read video or audio from a path without torchcodec, so we decode with the
PyAV layer (``aurelia.media``) and hand arrays to the processor. Decodes are cached per
process by content hash and settings: one clip decoded once however many targets and
injection modes answer about it.
"""

from __future__ import annotations

import base64
import hashlib
import math
import mimetypes
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np

from aurelia.errors import MediaError
from aurelia.media.audio import load_audio
from aurelia.media.keyframes import extract_frames


def video_times(duration_s: float, fps: float, max_frames: int, multiple: int = 1) -> tuple[list[float], float]:
    """Frame times covering the clip at ``fps``, at most ``max_frames`` (then spread evenly),
    a multiple of ``multiple`` (the temporal patch size); returns (times, effective fps)."""
    multiple = max(1, multiple)
    duration_s = max(duration_s, 1e-3)
    n = min(max_frames, max(1, math.floor(duration_s * fps + 1e-6)))
    n = max(multiple, n - n % multiple)
    step = duration_s / n
    return [round(i * step, 4) for i in range(n)], n / duration_s


@lru_cache(maxsize=16)
def _frames(path: str, sha256: str, times: tuple[float, ...], max_side: int) -> tuple[np.ndarray, ...]:
    return tuple(extract_frames(path, list(times), max_side=max_side))


def frames_at(path: str, sha256: str, times: list[float], max_side: int) -> list[np.ndarray]:
    """RGB frames (H, W, 3 uint8) of the video file at ``times``, longest side at most ``max_side``
    (copies: the cached decode is shared; ``sha256`` keys the cache)."""
    return [f.copy() for f in _frames(path, sha256, tuple(times), max_side)]


@lru_cache(maxsize=16)
def _wave(path: str, sha256: str, sample_rate: int, max_seconds: float | None) -> tuple[np.ndarray, float]:
    full, _ = load_audio(path, sample_rate=sample_rate)
    seconds = full.size / sample_rate
    return (full[: int(max_seconds * sample_rate)] if max_seconds else full), seconds


def waveform(track: tuple[str, str] | None, sample_rate: int, max_seconds: float | None) -> tuple[np.ndarray, float]:
    """(mono float32 wave at ``sample_rate``, full duration in seconds) of a (path, sha256)
    track, e.g. :func:`aurelia.media.ref.audio_track`; empty when there is none."""
    if track is None:
        return np.zeros(0, np.float32), 0.0
    return _wave(track[0], track[1], sample_rate, max_seconds)


# --- LangChain content blocks -> local files ------------------------------------------------------

_SPILL_DIR = Path(tempfile.gettempdir()) / "aurelia-hf-media"


def block_file(block: dict) -> tuple[str, str]:
    """(local path, cache key) of a standard image/audio/video block: a local file by URL
    (``file://`` or a path; ``extras.sha256`` is its content hash when known), or base64 bytes
    (a data URL too), written once per content hash so that PyAV can read them by path."""
    data = block.get("base64") or block.get("data")
    url = block.get("url") or ""
    if not data and url.startswith("data:"):
        data = url.partition(",")[2]
    if data:
        raw = base64.b64decode(data)
        sha = hashlib.sha256(raw).hexdigest()
        suffix = mimetypes.guess_extension(block.get("mime_type") or "") or ".bin"
        path = _SPILL_DIR / f"{sha}{suffix}"
        if not path.is_file():
            _SPILL_DIR.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
            tmp.write_bytes(raw)
            tmp.replace(path)
        return str(path), sha
    if url.startswith("file://"):
        url = url2pathname(urlsplit(url).path)
    if not url or "://" in url:
        what = f"the URL {url!r}" if url else "no base64 data or URL"
        raise MediaError(
            f"a local Hugging Face model takes media blocks as base64 or local files; this {block.get('type')} block has {what}"
        )
    path = Path(url).expanduser()
    if not path.is_file():
        raise MediaError("media file not found", path=str(path))
    st = path.stat()
    return str(path), (block.get("extras") or {}).get("sha256") or f"{path}:{st.st_size}:{st.st_mtime_ns}"


def image_file(path: str) -> np.ndarray:
    """An image file as RGB (H, W, 3 uint8), with Pillow (installed with the ``hf`` extra)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise MediaError(f"not a readable image ({exc})", path=path) from exc
