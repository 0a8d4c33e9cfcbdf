"""Who may use a served graph, and whose threads are whose: the ``auth`` of ``langgraph.json``.

LangGraph's server (``langgraph dev`` or a deployment) calls :data:`auth` on every request. This
module is the simple case and a template for real identity providers: a shared secret per user.

- ``AURELIA_API_TOKENS`` maps users to secrets, ``user=token`` pairs separated by commas
  (``alice=…,bob=…``; a token of at least 16 characters). A request sends its token as
  ``x-api-key: TOKEN`` (``get_sync_client(url=..., api_key=TOKEN)`` does) or
  ``Authorization: Bearer TOKEN``. No token, or one that is not listed: 401. Variable unset or
  malformed: the server is a one-person local server — requests from the machine itself
  (loopback: a browser running Studio, a script on the same host) are the user ``local``, and
  every other client is refused (401). So ``langgraph dev`` works with Studio out of the box and a
  server reachable from elsewhere is closed until it names its users.
- A thread belongs to the user who made it (``metadata.owner``, set by the server, never by the
  client); another user gets 404 on reading, listing, updating, deleting or running it.
  Assistants made by a user are that user's; the graphs' own assistants are everyone's.
- A run's or assistant's context holding a model URL with credentials is refused (403) before
  the server stores it.
- The store and crons are not used by Aurelia's graphs and are refused.

For a real identity provider, replace :func:`authenticate` (verify a JWT or ask the provider)
and keep the ``on`` handlers: they need only ``ctx.user.identity``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from typing import Any

from langgraph_sdk import Auth

from aurelia.redact import has_url_credentials

TOKENS_ENV = "AURELIA_API_TOKENS"
MIN_TOKEN_CHARS = 16
OWNER = "owner"
LOCAL_USER = "local"  # the one user of a server that names none, reached from the machine itself

log = logging.getLogger("aurelia.auth")
auth = Auth()


def api_tokens(text: str | None = None) -> dict[str, str]:
    """``token -> user`` from ``AURELIA_API_TOKENS`` (or ``text``); a malformed entry, a short
    or repeated token is a ValueError naming the entry's user, never its token."""
    text = os.environ.get(TOKENS_ENV, "") if text is None else text
    tokens: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        user, sep, token = (part.strip() for part in entry.partition("="))
        if not sep or not user or not token:
            raise ValueError(f"{TOKENS_ENV}: an entry is not user=token")
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(f"{TOKENS_ENV}: the token of {user!r} is shorter than {MIN_TOKEN_CHARS} characters")
        if token in tokens:
            raise ValueError(f"{TOKENS_ENV}: {user!r} and {tokens[token]!r} share a token")
        tokens[token] = user
    return tokens


def _given_token(headers: dict[bytes, bytes]) -> str | None:
    key = headers.get(b"x-api-key")
    if key:
        return key.decode("latin-1").strip()
    scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def user_for(token: str | None, tokens: dict[str, str]) -> str | None:
    """The user whose token this is, compared in constant time against every listed token."""
    found = None
    for known, user in tokens.items():
        if token is not None and hmac.compare_digest(known.encode(), token.encode()):
            found = user
    return found


def is_loopback(host: str | None) -> bool:
    """Whether a client address is this machine (127.0.0.0/8, ::1)."""
    try:
        return host is not None and ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes], request: Any = None) -> Auth.types.MinimalUserDict:
    """The user a request comes from, by its shared secret; with no users named, the machine's
    own clients are the one local user."""
    try:
        tokens = api_tokens()
    except ValueError as exc:
        log.error("%s", exc)
        raise Auth.exceptions.HTTPException(status_code=401, detail=f"this deployment's {TOKENS_ENV} is malformed") from None
    if not tokens:
        client = getattr(request, "client", None)
        if is_loopback(getattr(client, "host", None)):
            return {"identity": LOCAL_USER}
        raise Auth.exceptions.HTTPException(
            status_code=401, detail=f"this server names no users ({TOKENS_ENV}): only local clients may use it"
        )
    user = user_for(_given_token(headers), tokens)
    if user is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="a valid token is needed (x-api-key or Authorization: Bearer)")
    return {"identity": user}


def _stamp(value: dict[str, Any], owner: str) -> None:
    """The owner goes into the metadata the server stores; a client cannot set it, nor pose as
    one of the graphs' own assistants."""
    metadata = value.get("metadata")
    if not isinstance(metadata, dict):
        metadata = value["metadata"] = {}
    metadata.pop("created_by", None)
    metadata[OWNER] = owner


def _no_credentials(settings: Any) -> None:
    """Refuse (403) a context or config that names a model URL with credentials, before the
    server stores it: a served graph uses the deployment's own keys."""
    if isinstance(settings, dict):
        for value in settings.values():
            _no_credentials(value)
    elif isinstance(settings, list | tuple):
        for value in settings:
            _no_credentials(value)
    elif isinstance(settings, str) and has_url_credentials(settings):
        raise Auth.exceptions.HTTPException(
            status_code=403, detail="a served graph takes no credentials in a model URL; the deployment's own keys are used"
        )


@auth.on
async def refuse_the_rest(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Resources Aurelia's graphs do not use (the store, crons): refused."""
    return False


@auth.on.threads
async def own_threads(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> Auth.types.FilterType:
    """A thread (and its runs) is its maker's: stamped on create, filtered everywhere else."""
    owner = ctx.user.identity
    if ctx.action in ("create", "update", "create_run"):
        _stamp(value, owner)
    if ctx.action == "create_run":
        kwargs = value.get("kwargs") or {}
        _no_credentials(kwargs.get("context"))
        _no_credentials(kwargs.get("config"))
    return {OWNER: owner}


@auth.on.assistants
async def own_assistants(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> Auth.types.FilterType:
    """An assistant a user makes is theirs; the graphs' own (``created_by: system``) are
    everyone's to read and use, and no one's to change."""
    owner = ctx.user.identity
    if ctx.action in ("create", "update"):
        _stamp(value, owner)
        _no_credentials(value.get("context"))
        _no_credentials(value.get("config"))
    if ctx.action in ("read", "search"):
        return {"$or": [{OWNER: owner}, {"created_by": "system"}]}
    return {OWNER: owner}
