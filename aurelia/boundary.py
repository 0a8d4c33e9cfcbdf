"""Checks at the trust boundary: which model strings and media paths a run may use, how big user
input may be, and how user files are read.

A run is *served* when the deployment says so: the environment sets ``AURELIA_ALLOWED_MODELS``
or ``AURELIA_MEDIA_ROOT``, or the graph was built for a server (``langgraph.json``'s factories).
Then a client may name only the listed model strings, the server's API keys go only to model
URLs the deployment listed itself, and media paths must resolve under the media root; a path
outside it gets one generic error whatever the file is (no existence oracle), and the details go
to the server log. Served ``gguf:``/``hf:`` model paths must resolve under
``AURELIA_MODELS_ROOT`` (same rule, same one generic refusal), model URLs with credentials are
refused, and a served error names paths relative to the deployment's roots, never the server's
absolute paths. Without those variables the command line and the Python API trust their user,
as a local tool does. See docs/security.md.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit

from aurelia.errors import AureliaError, InputError
from aurelia.files import open_regular
from aurelia.redact import has_url_credentials

ALLOWED_MODELS_ENV = "AURELIA_ALLOWED_MODELS"
MEDIA_ROOT_ENV = "AURELIA_MEDIA_ROOT"
MODELS_ROOT_ENV = "AURELIA_MODELS_ROOT"
HUB_DOWNLOADS_ENV = "AURELIA_ALLOW_HUB_DOWNLOADS"
LOCAL_MODEL_PROVIDERS = ("gguf", "hf")
GGUF_MAGIC = b"GGUF"
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
DEFAULT_MODELS = ("local", "")  # the Context's defaults: all a deployment serves when it lists nothing
MAX_AUDIO_CANDIDATES = 26
MAX_USER_FILE_BYTES = 1 << 20  # --edit and --reasoning-file: r* is a few kB
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

log = logging.getLogger("aurelia.boundary")  # a server's log; a library stays quiet where none is set up
log.addHandler(logging.NullHandler())


def _comparable(raw: str) -> str:
    """A model string as the allow-list compares it: no ``#modalities`` suffix, no URL credentials,
    lower-case host."""
    text = raw.strip().partition("#")[0]
    if not URL_SCHEME.match(text):
        return text
    parts = urlsplit(text)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":?"
    netloc = (parts.hostname or "") + port
    return parts._replace(scheme=parts.scheme.lower(), netloc=netloc).geturl()


def _matches(entry: str, raw: str) -> bool:
    """``entry`` (a model string, or a prefix ending in ``*``) admits ``raw``; a URL entry admits
    only URLs on its own scheme, host and port."""
    prefix = entry.endswith("*")
    want, have = _comparable(entry[:-1] if prefix else entry), _comparable(raw)
    if URL_SCHEME.match(want):
        if not URL_SCHEME.match(have):
            return False
        w, h = urlsplit(want), urlsplit(have)
        if (w.scheme, w.netloc) != (h.scheme, h.netloc):
            return False
    return have.startswith(want) if prefix else have == want


@dataclass(frozen=True)
class Policy:
    """What a run may use. ``allowed_models`` None: any model string; ``media_roots`` None: any path."""

    served: bool = False
    allowed_models: tuple[str, ...] | None = None
    media_roots: tuple[Path, ...] | None = None
    models_root: Path | None = None  # served gguf:/hf: paths resolve under it (None: no such path)
    hub_downloads: bool = False  # served hf:org/name may be fetched from the hub

    @classmethod
    def from_env(cls, served: bool = False) -> Policy:
        """The policy of this process: served when ``served`` or either variable is set."""
        models_env = os.environ.get(ALLOWED_MODELS_ENV, "").strip()
        roots_env = os.environ.get(MEDIA_ROOT_ENV, "").strip()
        if not (served or models_env or roots_env):
            return cls()
        allowed = tuple(e.strip() for e in models_env.split(",") if e.strip()) or DEFAULT_MODELS
        roots = tuple(Path(r).expanduser().resolve() for r in (roots_env or os.getcwd()).split(os.pathsep) if r.strip())
        models_root = os.environ.get(MODELS_ROOT_ENV, "").strip()
        hub = os.environ.get(HUB_DOWNLOADS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
        return cls(True, allowed, roots, Path(models_root).expanduser().resolve() if models_root else None, hub)

    def model_allowed(self, raw: str) -> bool:
        if self.allowed_models is None:
            return True
        return any(entry == "*" or _matches(entry, raw) for entry in self.allowed_models)

    def check_model(self, raw: str, field: str) -> None:
        """Refuse a model string this deployment does not allow (before anything is loaded)."""
        if not self.model_allowed(raw):
            log.warning("refused %s %r: not in %s", field, _comparable(raw), ALLOWED_MODELS_ENV)
            raise InputError(f"{field} {_comparable(raw)!r} is not allowed by this deployment ({ALLOWED_MODELS_ENV})")
        if self.served and has_url_credentials(raw):
            log.warning("refused %s %r: credentials in a served model string", field, _comparable(raw))
            raise InputError(
                f"{field} {_comparable(raw)!r}: a served graph takes no credentials in a model string "
                "(user:password@ or a key in the query); the deployment's own keys are used"
            )

    def model_source(self, raw: str, field: str) -> str:
        """The model string to build for ``raw`` (after :meth:`check_model`). Locally, and for a
        string the deployment listed exactly, ``raw`` itself. Served ``gguf:``/``hf:`` strings
        admitted by a pattern (``*``, ``gguf:*``) must resolve, symlinks followed, to a model under
        ``AURELIA_MODELS_ROOT`` (relative paths start there): a GGUF file, or a directory with a
        config.json; ``hf:org/name`` comes from the hub only with ``AURELIA_ALLOW_HUB_DOWNLOADS=1``.
        Missing, unreadable, outside the root or not a model: one generic error (no existence
        oracle); the details go to the server log."""
        if not self.served:
            return raw
        body, hash_, modalities = raw.strip().partition("#")
        provider, colon, name = body.partition(":")
        provider, name = provider.strip().lower(), name.strip()
        if not colon or provider not in LOCAL_MODEL_PROVIDERS or not name:
            return raw
        if any(not entry.endswith("*") and _matches(entry, raw) for entry in self.allowed_models or ()):
            return raw  # the deployment named this model itself
        if provider == "hf" and self.hub_downloads and HUB_ID.fullmatch(name) and not self._under_models_root(name):
            return raw
        return f"{provider}:{self._local_model(provider, name, field, raw)}{hash_}{modalities}"

    def _under_models_root(self, name: str) -> bool:
        return self.models_root is not None and not os.path.isabs(name) and (self.models_root / name).exists()

    def _local_model(self, provider: str, name: str, field: str, raw: str) -> str:
        """The resolved path of a served model file, or the one generic refusal."""

        def refuse(why: str) -> InputError:
            log.warning("refused %s %r: %s", field, raw, why)
            return InputError(
                f"{field} {_comparable(raw)!r} is not allowed: a served {provider}: model must be a model "
                f"under the models root of this deployment ({MODELS_ROOT_ENV})"
            )

        if self.models_root is None:
            raise refuse(f"{MODELS_ROOT_ENV} is not set")
        if "\x00" in name or ".." in PurePath(name).parts:
            raise refuse("a NUL character or '..' in the path")
        real = Path(os.path.realpath(name if os.path.isabs(name) else self.models_root / name))
        if not real.is_relative_to(self.models_root):
            raise refuse(f"resolves to {real}, outside {self.models_root}")
        try:
            if provider == "gguf":
                head = _read_head(real, len(GGUF_MAGIC))
                if head != GGUF_MAGIC:
                    raise refuse(f"{real} is not a GGUF file")
            else:
                if not real.is_dir():
                    raise refuse(f"{real} is not a directory")
                _read_head(real / "config.json", 1)
        except OSError as exc:
            raise refuse(f"{real}: {exc.strerror or exc}") from None
        return str(real)

    def may_send_keys(self, raw: str) -> bool:
        """Whether the server's own API keys may go to this model string: always locally; when
        served, only to a model the deployment listed itself (``*`` lets a client pick any model,
        never where the keys go)."""
        if not self.served:
            return True
        return any(entry != "*" and _matches(entry, raw) for entry in self.allowed_models or ())

    def served_text(self, text: str) -> str:
        """``text`` as a served client may read it: a path under a media root, the models root or
        the server's working directory becomes relative to it, the home directory ``~`` and the
        Python installation ``<python>``; locally, ``text`` itself."""
        if not self.served:
            return text
        for root, shown in _server_roots(self):
            # the root itself, or followed by a separator (never "/srv/media2" for "/srv/media")
            pattern = re.escape(root) + r"(?:" + re.escape(os.sep) + r"|(?=[\s'\"),:;\]]|$))"
            text = re.sub(pattern, lambda m, shown=shown: shown if m.group(0).endswith(os.sep) else shown.rstrip(os.sep) or ".", text)
        return text

    def scrub_error(self, exc: BaseException) -> None:
        """Rewrite a served run's error in place (its message, an AureliaError's path, an
        OSError's file names) with :meth:`served_text`, so the server's layout never reaches a
        client."""
        if not self.served:
            return
        exc.args = tuple(self.served_text(a) if isinstance(a, str) else a for a in exc.args)
        if isinstance(exc, AureliaError):
            exc.reason = self.served_text(exc.reason)
            exc.path = self.served_text(exc.path) if exc.path else exc.path
        if isinstance(exc, OSError):
            for attr in ("filename", "filename2"):
                if isinstance(getattr(exc, attr), str):
                    setattr(exc, attr, self.served_text(getattr(exc, attr)))

    def media_path(self, raw: Any, what: str) -> str:
        """The path a run may open for ``raw`` (checked before any file is opened): served, it
        must resolve, symlinks followed, under a media root; relative paths start at the first."""
        if not isinstance(raw, str) or not raw.strip():
            raise InputError(f"the {what} path must be a non-empty string, got {raw!r}")
        if self.media_roots is None:
            return raw
        if "\x00" in raw:
            raise InputError(f"the {what} path holds a NUL character")
        if URL_SCHEME.match(raw):
            raise InputError(f"the {what} must be a file under the media root of this deployment, not a URL", path=raw)
        if ".." in PurePath(raw).parts:
            raise InputError(f"'..' is not allowed in the {what} path", path=raw)
        path = Path(raw) if os.path.isabs(raw) else self.media_roots[0] / raw
        real = Path(os.path.realpath(path))
        if not any(real.is_relative_to(root) for root in self.media_roots):
            log.warning("refused %s path %r: resolves to %s, outside %s", what, raw, real, os.pathsep.join(map(str, self.media_roots)))
            raise InputError(f"the {what} path is not allowed: give a file under the media root of this deployment", path=raw)
        return str(real)


def _server_roots(policy: Policy) -> list[tuple[str, str]]:
    """(absolute root, what a client sees instead), the longest first so that the most specific
    root wins: media and models roots and the working directory become relative, then ``~`` and
    ``<python>`` (the interpreter's prefixes, where the packages and bundled data live)."""
    pairs: dict[str, str] = {}
    for root in (*(policy.media_roots or ()), *((policy.models_root,) if policy.models_root else ()), Path.cwd()):
        pairs.setdefault(str(root), "")
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        pairs.setdefault(str(Path(prefix).resolve()), "<python>" + os.sep)
        pairs.setdefault(prefix, "<python>" + os.sep)
    pairs.setdefault(str(Path.home()), "~" + os.sep)
    return sorted(((r, s) for r, s in pairs.items() if r not in ("", os.sep)), key=lambda p: -len(p[0]))


def _read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of a regular file (a FIFO or device is never read: OSError)."""
    with open_regular(path) as handle:
        return handle.read(size)


def check_audio_candidates(candidates: Any) -> None:
    """A list of paths, at most 26 (checked before any of them is opened)."""
    if candidates is None:
        return
    if not isinstance(candidates, list) or any(not isinstance(c, str) or not c.strip() for c in candidates):
        raise InputError("audio_candidates must be a list of file paths")
    if len(candidates) > MAX_AUDIO_CANDIDATES:
        raise InputError(f"at most {MAX_AUDIO_CANDIDATES} candidate audio clips, got {len(candidates)}")


def _file_problem(exc: OSError, what: str) -> str:
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOTDIR:
        return f"{what} not found"
    if exc.errno == errno.ELOOP:
        return f"cannot read the {what} (symlink loop)"
    if isinstance(exc, PermissionError):
        return f"cannot read the {what} (permission denied)"
    return f"cannot read the {what} ({exc.strerror or exc})"


def _regular_size(st: os.stat_result, what: str, path: str, max_bytes: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"the {what} is a directory, not a file", path=path)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"the {what} is not a regular file (a device, FIFO or socket is never read)", path=path)
    if st.st_size > max_bytes:
        raise InputError(f"the {what} is {st.st_size} bytes; the limit is {max_bytes}", path=path)


def read_user_file(path: str | os.PathLike, what: str, max_bytes: int = MAX_USER_FILE_BYTES) -> str:
    """UTF-8 text of a user's file: a regular file of at most ``max_bytes``, never a device or
    FIFO (checked before opening, and again on the open descriptor)."""
    shown = str(path)
    try:
        _regular_size(os.stat(path), what, shown, max_bytes)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(_file_problem(exc, what), path=shown) from exc
    try:
        _regular_size(os.fstat(fd), what, shown, max_bytes)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise InputError(f"the {what} is over the {max_bytes}-byte limit", path=shown)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the {what} is not UTF-8 text (byte {exc.start})", path=shown) from exc


def looks_like_json(text: str) -> bool:
    """Text whose first non-blank character is ``{`` or ``[`` is meant as JSON, and must be valid."""
    return text.lstrip().startswith(("{", "["))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str, what: str, path: str | None = None) -> Any:
    """Strict JSON (no NaN/Infinity); an error names the line and column."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise InputError(f"the {what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", path=path) from exc
    except ValueError as exc:
        raise InputError(f"the {what} is not valid JSON ({exc})", path=path) from exc
