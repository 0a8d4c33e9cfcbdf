"""Secrets out of every record: one redaction for error messages, results, thread settings,
traces and logs.

Three kinds of secret are removed from text: the values of the environment's keys and tokens
(``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD``), strings in a known key format
(``sk-…``, ``lsv2_…``, ``AIza…``, ``hf_…``), and credentials inside URLs: the ``user:password@``
part becomes ``***@`` and the value of a key-like query parameter (``?api_key=…``) becomes
``***``. The lowest layer of the package, so that every error message can use it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
SECRET_VALUE = re.compile(r"\b(sk-[A-Za-z0-9_-]{16,}|lsv2_[A-Za-z0-9_]{16,}|AIza[0-9A-Za-z_-]{30,}|hf_[A-Za-z0-9]{20,})")
ENV_SECRET_NAMES = re.compile(r"(API_KEY|_TOKEN|_SECRET|PASSWORD)$")
# scheme://userinfo@host : the userinfo runs to the LAST '@' of the authority (a password may hold
# an '@'; ``urlsplit`` takes the host after the last one too), so the class admits '@' and the
# greedy match backs off to the last one before the path, query, fragment or a blank
URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^/\s?#]+)@")
URL_KEY_PARAM = re.compile(r"([?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|passwd|sig|signature)=)([^&#\s]+)", re.I)


def env_secrets() -> list[str]:
    """Values of the environment's keys and tokens (long enough to be secrets, not flags)."""
    return [v for k, v in os.environ.items() if ENV_SECRET_NAMES.search(k) and v and len(v) >= 8]


def redact_url(text: str) -> str:
    """``http://user:pass@host/v1?api_key=k`` -> ``http://***@host/v1?api_key=***``."""
    return URL_KEY_PARAM.sub(lambda m: m.group(1) + MASK, URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text))


def has_url_credentials(text: str) -> bool:
    """Whether ``text`` holds a URL with a ``user:password@`` part or a key-like query parameter
    (a served graph refuses such a model string: :meth:`aurelia.boundary.Policy.check_model`)."""
    return bool(URL_USERINFO.search(text) or URL_KEY_PARAM.search(text))


def redact_text(text: str, secrets: list[str] | None = None, *, mask: str = MASK) -> str:
    """``text`` without URL credentials, environment secrets or known key formats."""
    text = redact_url(text)
    for secret in env_secrets() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, mask)
    return SECRET_VALUE.sub(mask, text)


def redact_deep(value: Any, secrets: list[str] | None = None) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string redacted."""
    secrets = env_secrets() if secrets is None else secrets
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {k: redact_deep(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_deep(v, secrets) for v in value]
    return value
