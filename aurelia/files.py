"""Files a run rewrites are replaced whole: written to a temporary file beside the target, flushed
to disk, then renamed over it. A kill at any moment leaves either the old file or the new one,
never a truncated one (a truncated run.json would make the next resume refuse the run). A run
holds its thread or run folder with :func:`pid_lock`.

One of the lowest layers, so that every writer (bench store, exports, importers, reports) uses it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

import filelock


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, *, encoding: str = "utf-8", binary: bool = False) -> Iterator[IO[Any]]:
    """Open ``path`` for writing text (bytes with ``binary``); on a clean exit the new content
    replaces the old in one rename, on an exception the old file is untouched and the temporary
    file is removed. Raises OSError like ``open`` does (the caller turns it into its typed error)."""
    target = Path(os.path.realpath(path))  # through a symlink: replace the file it names, not the link
    if target.exists() and not target.is_file():
        # a device, FIFO or socket (``-o /dev/stdout``, ``/dev/full``) is written in place: renaming
        # over it would replace the device node itself
        with open(target, "wb") if binary else open(target, "w", encoding=encoding, newline="") as handle:
            yield handle
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_file():  # a device or a FIFO (-o /dev/stdout): written, never replaced by a file
        with open(target, "w", encoding=encoding, newline="") as handle:
            yield handle
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):  # keep the file's mode when it existed (mkstemp makes 0600)
            os.chmod(tmp, target.stat().st_mode & 0o7777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> None:
    """Replace ``path``'s content with ``text`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, encoding=encoding) as handle:
        handle.write(text)


class LockHeld(Exception):
    """The lock is held by another run; ``holder`` is its pid as it wrote it (or "another process")."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


def pid_lock(path: str | os.PathLike) -> filelock.FileLock:
    """Take an exclusive ``flock`` on ``path`` (created with its folder) without waiting, and
    write this process's pid in it for whoever is refused: :class:`LockHeld` with that pid, even
    from another lock in this process. ``.release()`` frees it, and the OS does when the process
    ends, even on SIGKILL (no soft-lock fallback: a stale lock file never blocks a later run).
    Raises OSError when the file cannot be created (the caller turns it into its typed error)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(path, mode=0o600, blocking=False, thread_local=False, fallback_to_soft=False, on_acquired=_write_pid)
    try:
        lock.acquire()
    except filelock.Timeout:
        try:
            holder = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:  # released (and removed) meanwhile
            holder = ""
        raise LockHeld(holder or "another process") from None
    return lock


class NotRegularFile(OSError):
    """The path opened is a device, FIFO, socket or folder: never read."""


@contextlib.contextmanager
def open_regular(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open ``path`` for reading bytes without blocking and check, on the open descriptor, that it
    is a regular file: a FIFO or a device (``/dev/zero``) swapped in after an earlier check raises
    :class:`NotRegularFile` instead of being waited on or read forever."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile(errno.EINVAL, "not a regular file", str(path))
    with os.fdopen(fd, "rb") as handle:
        yield handle
