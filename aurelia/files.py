"""Files a run rewrites are replaced whole: written to a temporary file beside the target, flushed
to disk, then renamed over it. A kill at any moment leaves either the old file or the new one,
never a truncated one (a truncated run.json would make the next resume refuse the run).

One of the lowest layers, so that every writer (bench store, exports, importers, reports) uses it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


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
