"""``aurelia media probe`` and ``aurelia media digest``: what the user sees."""

from __future__ import annotations

import json

import av
from typer.testing import CliRunner

from aurelia.cli import app

runner = CliRunner()


def test_probe_prints_the_facts(clip):
    result = runner.invoke(app, ["media", "probe", str(clip)])
    assert result.exit_code == 0, result.output
    assert "video: h264 160x120 yuv420p  25 fps" in result.output and "audio: aac 44100 Hz 1 ch" in result.output
    data = json.loads(runner.invoke(app, ["media", "probe", str(clip), "--json"]).output)
    assert data["video"]["width"] == 160 and data["audio"]["sample_rate"] == 44100 and len(data["sha256"]) == 64


def test_digest_writes_keyframes_and_digest(clip, tmp_path):
    out = tmp_path / "seen"
    result = runner.invoke(app, ["media", "digest", str(clip), "--frames", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    jpgs = sorted(out.glob("keyframe_*.jpg"))
    assert len(jpgs) == 3
    colours = []
    for jpg in jpgs:
        with av.open(str(jpg)) as c:
            rgb = next(c.decode(video=0)).to_ndarray(format="rgb24").reshape(-1, 3).mean(0)
        colours.append(int(rgb.argmax()))
    assert colours == [0, 2, 1]  # red, blue, green: the three scenes
    assert (out / "digest.txt").read_text().strip() in result.output
    assert "Scene changes (2" in result.output


def test_digest_fast_mode(clip):
    result = runner.invoke(app, ["media", "digest", str(clip), "--fast"])
    assert result.exit_code == 0 and "Keyframes" in result.output


def test_digest_of_an_audio_file(tone_wav):
    result = runner.invoke(app, ["media", "digest", str(tone_wav)])
    assert result.exit_code == 0, result.output
    assert "Audio file: 3.0s (wav)" in result.output and "~660 Hz" in result.output and "Keyframes" not in result.output


def test_probe_several_files_and_digest_with_options(clip, silent_clip, tone_wav):
    result = runner.invoke(app, ["media", "probe", str(clip), str(tone_wav), "--json"])
    assert result.exit_code == 0 and [d["container"] for d in json.loads(result.output)] == ["mov,mp4,m4a,3gp,3g2,mj2", "wav"]
    result = runner.invoke(app, ["media", "digest", str(silent_clip), "--option", str(tone_wav), "--option", str(tone_wav)])
    assert result.exit_code == 0, result.output
    assert "Audio option A: 3.0s" in result.output and "Audio option B: 3.0s" in result.output
