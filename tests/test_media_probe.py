"""Probe across the containers and codecs this FFmpeg can encode, against what was written.

ogg/Theora cannot be tested: this PyAV build has no Theora (nor libvorbis) encoder; ogg is
covered with VP8 + FFmpeg's native Vorbis encoder instead (Theora decoding is available)."""

from __future__ import annotations

import hashlib

import av
import numpy as np
import pytest
from media_clips import RGB, needs_rotation_write

from aurelia.media.keyframes import extract_frames, scan_keyframes
from aurelia.media.probe import probe, probe_many
from aurelia.testing.clips import Segment, make_clip, write_audio_file

AV_CASES = [
    ("mp4", dict(), "h264", "aac"),
    ("webm", dict(video_codec="libvpx-vp9", audio_codec="libopus", sample_rate=48_000), "vp9", "opus"),
    ("mkv", dict(audio_codec="flac"), "h264", "flac"),
    ("avi", dict(video_codec="mpeg4", audio_codec="libmp3lame"), "mpeg4", "mp3"),
    ("ogg", dict(video_codec="vp8", audio_codec="vorbis"), "vp8", "vorbis"),
    ("mov", dict(video_codec="mjpeg", pix_fmt="yuvj420p", audio_codec="pcm_s16le"), "mjpeg", "pcm_s16le"),
]
AUDIO_CASES = [
    ("wav", "pcm_s16le", 16_000),
    ("flac", "flac", 44_100),
    ("mp3", "libmp3lame", 44_100),
    ("ogg", "vorbis", 44_100),
    ("opus", "libopus", 48_000),
    ("m4a", "aac", 44_100),
]


@pytest.mark.parametrize(("ext", "kw", "vcodec", "acodec"), AV_CASES, ids=[c[0] for c in AV_CASES])
def test_probe_audio_video_containers(tmp_path, ext, kw, vcodec, acodec):
    path = make_clip(tmp_path / f"clip.{ext}", RGB, **kw)
    info = probe(path)
    assert info.kind == "audio+video"
    assert info.video.codec == vcodec and info.audio.codec.startswith(acodec)
    assert (info.video.width, info.video.height) == (160, 120)
    assert info.video.fps == pytest.approx(25, abs=0.1) and not info.video.vfr
    assert info.duration_s == pytest.approx(6.0, abs=0.15)
    assert info.audio.sample_rate == kw.get("sample_rate", 44_100)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # and the layers above read it: the cut at 2 s and 4 s is found in every container
    scan = scan_keyframes(path)
    assert len(scan.cut_times) == 2
    assert all(abs(a - b) <= 0.5 for a, b in zip(scan.cut_times, [2.0, 4.0], strict=True))


@pytest.mark.parametrize(("ext", "codec", "rate"), AUDIO_CASES, ids=[c[0] for c in AUDIO_CASES])
def test_probe_audio_only(tmp_path, ext, codec, rate):
    path = write_audio_file(tmp_path / f"tone.{ext}", [Segment(1.5, (0, 0, 0), 440.0)], codec=codec, sample_rate=rate)
    info = probe(path)
    assert info.kind == "audio" and info.video is None
    assert info.audio.sample_rate == rate
    assert info.audio.channels == (2 if codec == "vorbis" else 1)
    assert info.duration_s == pytest.approx(1.5, abs=0.1)


def test_video_only_and_candidates(tmp_path, silent_clip):
    info = probe(silent_clip)
    assert info.kind == "video" and info.audio is None
    options = [write_audio_file(tmp_path / f"opt{k}.wav", [Segment(1, (0, 0, 0), 220.0 * (k + 1))]) for k in range(4)]
    assert [i.audio.duration_s for i in probe_many(options)] == [1.0] * 4


@needs_rotation_write
def test_rotation_metadata_gives_display_size_and_orientation(tmp_path):
    # top half red, bottom half blue; stored with a 90 degree (counter-clockwise) display rotation
    path = tmp_path / "rot.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 160, 120, "yuv420p"
        vs.set_display_rotation(90)
        img = np.zeros((120, 160, 3), np.uint8)
        img[:60] = (230, 20, 20)
        img[60:] = (20, 20, 230)
        for n in range(10):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = n
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    info = probe(path)
    assert info.video.rotation == 90
    assert (info.video.width, info.video.height) == (120, 160)
    (rgb,) = extract_frames(path, [0.0])
    assert rgb.shape[:2] == (160, 120)  # portrait, as displayed
    left, right = rgb[:, :50].reshape(-1, 3).mean(0), rgb[:, -50:].reshape(-1, 3).mean(0)
    assert left[0] > 150 > left[2] and right[2] > 150 > right[0]  # the top (red) turned to the left


def test_variable_frame_rate_detected(tmp_path):
    info = probe(make_clip(tmp_path / "vfr.mp4", RGB, vfr=True))
    assert info.video.vfr
    assert info.video.fps == pytest.approx(150 / 9, rel=0.05)  # 75 frames of 1/25 s + 75 of 2/25 s
