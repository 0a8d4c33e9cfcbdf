"""aurelia.files: a rewritten file is replaced whole, and never a device or a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aurelia.files import atomic_open, atomic_write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_the_new_content_replaces_the_old_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    atomic_write_text(tmp_path / "sub" / "fresh.txt", "x")  # folders are made
    assert (tmp_path / "sub" / "fresh.txt").stat().st_mode & 0o777 == 0o644


def test_a_symlink_keeps_pointing_at_the_rewritten_file(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_device_is_written_in_place_never_renamed_over() -> None:
    before = os.stat("/dev/full")
    with pytest.raises(OSError), atomic_open("/dev/full") as handle:
        handle.write("x" * 65536)
    after = os.stat("/dev/full")
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert not [p for p in os.listdir("/dev") if p.startswith(".full.")]


def test_open_regular_reads_a_file_and_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    from aurelia.files import NotRegularFile, open_regular

    (tmp_path / "f.bin").write_bytes(b"GGUF rest")
    with open_regular(tmp_path / "f.bin") as handle:
        assert handle.read(4) == b"GGUF"
    os.mkfifo(tmp_path / "pipe")  # no writer: a blocking open would wait forever
    with pytest.raises(NotRegularFile), open_regular(tmp_path / "pipe"):
        pass
    with pytest.raises(NotRegularFile), open_regular(tmp_path):
        pass
