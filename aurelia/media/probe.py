"""Probe a media file with PyAV: container, streams, codecs, duration, frame rate (constant or
variable), display size after rotation metadata, audio format, and a streamed content hash.

Every failure becomes a :class:`MediaError` naming the file and the reason. Probing reads the
container header, demuxes at most a few hundred video packets (to tell variable from constant
frame rate) and decodes one frame per stream (to prove the codec is decodable and read the
rotation), so it is cheap for any length of input.
"""

from __future__ import annotations

import errno
import hashlib
import inspect
import os
import stat
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from aurelia.errors import MediaError
from aurelia.files import NotRegularFile, open_regular

HASH_CHUNK = 1 << 20
HASH_CACHE_SIZE = 4096  # file versions whose hash is remembered per process (bounded: a million clips stay flat)
MAX_SIDE = 16_384  # pixels; beyond this a frame is not a video we can bound the work for
MAX_PIXELS = 8_192 * 8_192
MAX_DURATION_S = 48 * 3600.0
VFR_PACKETS = 240  # video packets demuxed to tell variable from constant frame rate
VFR_TOLERANCE = 0.1  # relative spread of frame durations above which the rate is variable


@dataclass(frozen=True)
class StreamInfo:
    """One stream of the container, usable or not (subtitles, data, undecodable codecs)."""

    index: int
    kind: str
    codec: str
    decodable: bool


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int  # as displayed, i.e. after rotation metadata
    height: int
    fps: float  # average frame rate
    duration_s: float
    coded_width: int = 0
    coded_height: int = 0
    rotation: int = 0  # counter-clockwise degrees to apply for display (0, 90, 180, 270)
    vfr: bool = False
    pix_fmt: str = ""
    frames: int = 0  # from the container when it says, else 0
    bit_rate: int = 0


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    layout: str = ""
    bit_rate: int = 0


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    size_bytes: int
    sha256: str
    duration_s: float
    video: VideoInfo | None
    audio: AudioInfo | None
    streams: tuple[StreamInfo, ...] = ()
    audio_streams: int = 0
    bit_rate: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def kind(self) -> str:
        """'audio+video', 'video' or 'audio'."""
        return "audio+video" if self.audio and self.video else ("video" if self.video else "audio")


def file_sha256(path: str | os.PathLike) -> str:
    """Content hash, streamed in 1 MiB chunks so large files never sit in memory. Opened without
    blocking and checked on the open descriptor: a FIFO or a device (``/dev/zero``) swapped in
    after a check is refused, never waited on or read forever."""
    digest = hashlib.sha256()
    try:
        with open_regular(path) as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    except NotRegularFile as exc:
        raise MediaError("not a regular file (a device, FIFO or socket is never read)", path=str(path)) from exc
    return digest.hexdigest()


def check_readable_file(path: str | os.PathLike, max_bytes: int | None = None) -> Path:
    """Raise a MediaError unless ``path`` is an existing, non-empty, readable regular file (of at
    most ``max_bytes``). Only ``stat``: a FIFO or a device is refused without being opened."""
    p = Path(path)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise MediaError("file not found", path=str(path)) from exc
    except OSError as exc:
        why = "symlink loop" if exc.errno == errno.ELOOP else f"cannot reach the file ({exc.strerror or exc})"
        raise MediaError(why, path=str(path)) from exc
    if stat.S_ISDIR(st.st_mode):
        raise MediaError("is a directory, not a media file", path=str(path))
    if not stat.S_ISREG(st.st_mode):
        raise MediaError("not a regular file (a device, FIFO or socket is never read)", path=str(path))
    if not os.access(p, os.R_OK):
        raise MediaError("file is not readable (permission denied)", path=str(path))
    if st.st_size == 0:
        raise MediaError("file is empty (0 bytes)", path=str(path))
    if max_bytes is not None and st.st_size > max_bytes:
        raise MediaError(f"file is {st.st_size} bytes; the limit is {max_bytes}", path=str(path))
    return p


FileIdentity = tuple[str, int, int, int, int, int]  # path as given, st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns


def file_identity(path: str | os.PathLike) -> FileIdentity:
    """Which version of which file ``path`` is, from ``stat`` alone (after :func:`check_readable_file`):
    what the per-process caches key a measurement by, so that a clip is hashed and probed once
    until it changes (a rewrite moves its size or times; a replacement, its inode)."""
    check_readable_file(path)
    try:
        st = os.stat(path)
    except OSError as exc:  # removed between the two calls
        raise MediaError(f"cannot reach the file ({exc.strerror or exc})", path=str(path)) from exc
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@lru_cache(maxsize=HASH_CACHE_SIZE)
def _sha256_of_version(identity: FileIdentity) -> str:
    return file_sha256(identity[0])


def cached_sha256(path: str | os.PathLike) -> str:
    """:func:`file_sha256`, computed once per version of the file (:func:`file_identity`) in this
    process: the probe and the reasoning cache's key share it, so a clip is hashed once."""
    return _sha256_of_version(file_identity(path))


def _open_kwargs() -> dict[str, str]:
    """What ``av.open`` is given beyond the mode: up to PyAV 18, ``metadata_errors="ignore"`` so a
    tag that is not UTF-8 cannot refuse an otherwise readable file; PyAV 19 removed the argument
    (passing it is a TypeError), so it is passed only where the signature still has it."""
    try:
        params = inspect.signature(av.open).parameters
    except (TypeError, ValueError):  # no signature to read: go by the version that removed it
        return {"metadata_errors": "ignore"} if int(av.__version__.split(".")[0]) < 19 else {}
    return {"metadata_errors": "ignore"} if "metadata_errors" in params else {}


OPEN_KWARGS = _open_kwargs()


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open with PyAV, turning FFmpeg's errors into a MediaError."""
    p = check_readable_file(path)
    try:
        return av.open(str(p), mode="r", **OPEN_KWARGS)
    except PermissionError as exc:
        raise MediaError("file is not readable (permission denied)", path=str(path)) from exc
    except (av.error.FFmpegError, OSError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise MediaError(f"not a readable media file ({why}); the file may be truncated, corrupt or not media", path=str(path)) from exc


def seconds_of(value, time_base) -> float:
    """A timestamp in seconds (0.0 when the stream does not say)."""
    return float(value * time_base) if value is not None and time_base is not None else 0.0


def _codec_name(stream) -> str:
    ctx = stream.codec_context
    return ctx.name if ctx is not None else "unknown"


def _rewind(container) -> None:
    try:
        container.seek(0)
    except av.error.FFmpegError:  # not seekable: decoding goes on from where demuxing stopped
        pass


def _first_frame(container, stream):
    """Decode the first frame of ``stream`` (None if the stream holds none)."""
    _rewind(container)
    for frame in container.decode(stream):
        return frame
    return None


def _is_vfr(container, stream) -> bool:
    """Demux (no decode) the first packets; variable frame rate if their durations differ."""
    pts = []
    for packet in container.demux(stream):
        if packet.pts is not None:
            pts.append(packet.pts)
        if len(pts) >= VFR_PACKETS:
            break
    if len(pts) < 4:
        return False
    steps = np.diff(np.sort(np.array(pts, dtype=np.float64)))
    steps = steps[steps > 0]
    if steps.size < 3:
        return False
    med = float(np.median(steps))
    return bool((np.percentile(steps, 95) - np.percentile(steps, 5)) > VFR_TOLERANCE * med + 1)


def snap_rotation(deg: float | None) -> int:
    """Rotation metadata snapped to 0, 90, 180 or 270 degrees."""
    return round((deg or 0) / 90.0) * 90 % 360


def _probe_video(container, vs, container_duration: float, path: str) -> VideoInfo:
    ctx = vs.codec_context
    w, h = ctx.width, ctx.height
    if not w or not h:
        raise MediaError("video stream has no frame size", path=path)
    if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
        raise MediaError(
            f"absurd video dimensions {w}x{h} (the limit is {MAX_SIDE} px a side and {MAX_PIXELS // 1_000_000} megapixels)", path=path
        )
    vfr = _is_vfr(container, vs)
    try:
        frame = _first_frame(container, vs)
    except av.error.FFmpegError as exc:
        raise MediaError(f"the video stream ({ctx.name}) cannot be decoded: {exc.strerror or exc}", path=path) from exc
    if frame is None:
        raise MediaError(f"the video stream ({ctx.name}) holds no decodable frame", path=path)
    rotation = snap_rotation(frame.rotation)
    rate = vs.average_rate or vs.guessed_rate or vs.base_rate
    vdur = seconds_of(vs.duration, vs.time_base) or container_duration
    frames = vs.frames or 0
    fps = float(rate) if rate else (frames / vdur if frames and vdur else 0.0)
    dw, dh = (h, w) if rotation in (90, 270) else (w, h)
    return VideoInfo(
        codec=ctx.name,
        width=dw,
        height=dh,
        fps=round(fps, 3),
        duration_s=round(vdur, 3),
        coded_width=w,
        coded_height=h,
        rotation=rotation,
        vfr=vfr,
        pix_fmt=ctx.pix_fmt or "",
        frames=frames,
        bit_rate=ctx.bit_rate or 0,
    )


def _probe_audio(container, st, container_duration: float, path: str) -> AudioInfo:
    ctx = st.codec_context
    try:
        frame = _first_frame(container, st)
    except av.error.FFmpegError as exc:
        raise MediaError(f"the audio stream ({ctx.name}) cannot be decoded: {exc.strerror or exc}", path=path) from exc
    if frame is None:
        raise MediaError(f"the audio stream ({ctx.name}) holds no decodable samples", path=path)
    return AudioInfo(
        codec=ctx.name,
        sample_rate=ctx.sample_rate or frame.sample_rate or 0,
        channels=ctx.channels or len(frame.layout.channels),
        duration_s=round(seconds_of(st.duration, st.time_base) or container_duration, 3),
        layout=ctx.layout.name if ctx.layout else "",
        bit_rate=ctx.bit_rate or 0,
    )


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read the container's facts; raises MediaError when no audio or video stream is usable."""
    spath = str(path)
    with open_container(path) as container:
        container_duration = container.duration / av.time_base if container.duration else 0.0
        if container_duration > MAX_DURATION_S:
            raise MediaError(
                f"absurd duration: the container claims {container_duration / 3600:.0f} h (the limit is {MAX_DURATION_S / 3600:.0f} h)",
                path=spath,
            )
        streams = tuple(
            StreamInfo(s.index, s.type, _codec_name(s), s.codec_context is not None and s.type in ("video", "audio"))
            for s in container.streams
        )
        unsupported = [s for s in streams if s.kind in ("video", "audio") and not s.decodable]
        video = audio = None
        # the first video stream that is not a cover picture
        vstreams = [
            s for s in container.streams.video if s.codec_context is not None and not s.disposition & av.stream.Disposition.attached_pic
        ]
        astreams = [s for s in container.streams.audio if s.codec_context is not None]
        if vstreams:
            video = _probe_video(container, vstreams[0], container_duration, spath)
        if astreams:
            audio = _probe_audio(container, astreams[0], container_duration, spath)
        fmt = container.format.name
        bit_rate = container.bit_rate or 0
    if video is None and audio is None:
        if unsupported:
            names = ", ".join(f"{s.kind} codec {s.codec!r}" for s in unsupported)
            raise MediaError(f"unsupported codec: this FFmpeg build has no decoder for the {names}", path=spath)
        kinds = ", ".join(sorted({s.kind for s in streams})) or "none"
        raise MediaError(f"no usable audio or video stream (streams found: {kinds})", path=spath)
    duration = max(video.duration_s if video else 0.0, audio.duration_s if audio else 0.0)
    return MediaInfo(
        path=spath,
        container=fmt,
        size_bytes=Path(path).stat().st_size,
        sha256=cached_sha256(path),
        duration_s=round(duration or container_duration, 3),
        video=video,
        audio=audio,
        streams=streams,
        audio_streams=len(astreams),
        bit_rate=bit_rate,
    )


def probe_many(paths: list[str | os.PathLike]) -> list[MediaInfo]:
    """Probe several files (e.g. the four candidate audio clips of a Dance-Music question)."""
    return [probe(p) for p in paths]
