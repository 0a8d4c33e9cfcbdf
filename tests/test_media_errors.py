"""Every bad input becomes a typed MediaError naming the file and the cause; the CLI exits 2 with one line."""

from __future__ import annotations

import os
import random

import pytest
from media_clips import RGB, absurd_duration_mkv, truncated_copy, unknown_codec_wav
from typer.testing import CliRunner

from aurelia.cli import app
from aurelia.errors import MediaError
from aurelia.media.audio import analyse_file
from aurelia.media.prepare import prepare_media
from aurelia.media.probe import probe
from aurelia.testing.clips import Segment, make_clip


def _bad_files(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    # Fixed noise: about 1 buffer of os.urandom(4096) in 200 happens to probe as a subtitle or
    # frameless video stream, which made this test fail one run in N.
    (tmp_path / "random.mp4").write_bytes(random.Random(20261205).randbytes(4096))
    (tmp_path / "subs.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    (tmp_path / "a_dir.mp4").mkdir()
    good = make_clip(tmp_path / "good.mp4", RGB)
    wide = make_clip(
        tmp_path / "wide.mkv", [Segment(0.2, (200, 0, 0))], size=(20000, 16), video_codec="mjpeg", pix_fmt="yuvj420p", audio_codec=None
    )
    return {
        "empty.mp4": "empty (0 bytes)",
        "random.mp4": "not a readable media file",
        "subs.srt": "no usable audio or video stream (streams found: subtitle)",
        "a_dir.mp4": "is a directory",
        "missing.mp4": "file not found",
        "good.mp4/inside.mp4": "file not found",  # a path through a file
        unknown_codec_wav(tmp_path / "unknown.wav").name: "unsupported codec",
        absurd_duration_mkv(tmp_path / "forever.mkv").name: "absurd duration",
        wide.name: "absurd video dimensions 20000x16",
        # an MP4 cut in half loses its index (moov at the end): it cannot be opened at all
        truncated_copy(good, tmp_path / "half.mp4", 0.5).name: "truncated, corrupt or not media",
    }


def test_each_bad_input_is_a_typed_error_naming_file_and_cause(tmp_path):
    for name, cause in _bad_files(tmp_path).items():
        path = tmp_path / name
        with pytest.raises(MediaError) as err:
            probe(path)
        assert err.value.path == str(path)
        assert cause in str(err.value) and str(err.value).startswith(str(path))
        with pytest.raises(MediaError):
            prepare_media(str(path))


def test_device_is_not_a_regular_file():
    with pytest.raises(MediaError, match="not a regular file"):
        probe(os.devnull)


def test_cli_exits_2_with_one_line(tmp_path):
    runner = CliRunner()
    for name, cause in _bad_files(tmp_path).items():
        for cmd in (["media", "probe"], ["media", "digest"]):
            result = runner.invoke(app, [*cmd, str(tmp_path / name)])
            assert result.exit_code == 2, (name, result.output)
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and cause in lines[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path):
    path = make_clip(tmp_path / "locked.mp4", RGB)
    path.chmod(0)
    with pytest.raises(MediaError, match="permission denied"):
        probe(path)


def test_truncated_streamable_file_decodes_what_is_there_and_says_so(tmp_path):
    good = make_clip(tmp_path / "good.mkv", RGB, audio_codec="flac")
    cut = truncated_copy(good, tmp_path / "cut.mkv", 0.55)
    media = prepare_media(str(cut))
    assert media["truncated"] and media["video_truncated"]
    assert "truncated" in media["digest"]
    assert media["keyframe_times"][0] == 0.0 and "red" in media["digest"]  # the part that is there was measured
    analysis, audio_truncated = analyse_file(cut)
    assert audio_truncated and 0.5 < analysis.duration_s < 5.5


def test_absurd_duration_claim_is_refused_before_any_decoding(tmp_path):
    path = absurd_duration_mkv(tmp_path / "forever.mkv")
    with pytest.raises(MediaError, match="absurd duration"):
        prepare_media(str(path))


def test_separate_audio_must_have_audio(tmp_path, silent_clip):
    with pytest.raises(MediaError, match="no audio stream in the separate audio file"):
        prepare_media(str(silent_clip), audio=str(silent_clip))


def test_audio_only_file_is_not_a_video(tone_wav):
    with pytest.raises(MediaError, match="no video stream"):
        prepare_media(str(tone_wav))
    assert prepare_media(str(tone_wav), allow_audio_only=True)["keyframe_times"] == []
