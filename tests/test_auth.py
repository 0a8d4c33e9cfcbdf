"""The served graphs' authentication (aurelia/graph/auth.py) as a function: who a request is.

The whole server path (two users, 404s, 401s) is tested against a real ``langgraph dev`` in
tests/test_studio_server.py; here the cases that need no server: a server that names no users
serves only its own machine."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from langgraph_sdk import Auth

from aurelia.graph import auth as served_auth

TOKEN = "a-token-of-sixteen-or-more"


def _who(monkeypatch, tokens: str | None, host: str | None, headers: dict[bytes, bytes] | None = None) -> str:
    if tokens is None:
        monkeypatch.delenv(served_auth.TOKENS_ENV, raising=False)
    else:
        monkeypatch.setenv(served_auth.TOKENS_ENV, tokens)
    request = SimpleNamespace(client=SimpleNamespace(host=host, port=50000) if host else None)
    return asyncio.run(served_auth.authenticate(headers or {}, request))["identity"]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "::1"])
def test_no_users_named_means_the_machine_itself_is_the_local_user(monkeypatch, host):
    assert _who(monkeypatch, None, host) == served_auth.LOCAL_USER


@pytest.mark.parametrize("host", ["10.0.0.5", "192.168.1.9", "203.0.113.7", "::ffff:203.0.113.7", None, "not-an-address"])
def test_no_users_named_refuses_every_other_client(monkeypatch, host):
    with pytest.raises(Auth.exceptions.HTTPException) as info:
        _who(monkeypatch, None, host)
    assert info.value.status_code == 401


def test_named_users_need_their_token_even_from_the_machine_itself(monkeypatch):
    with pytest.raises(Auth.exceptions.HTTPException) as info:
        _who(monkeypatch, f"alice={TOKEN}", "127.0.0.1")
    assert info.value.status_code == 401
    assert _who(monkeypatch, f"alice={TOKEN}", "203.0.113.7", {b"x-api-key": TOKEN.encode()}) == "alice"
    assert _who(monkeypatch, f"alice={TOKEN}", "127.0.0.1", {b"authorization": f"Bearer {TOKEN}".encode()}) == "alice"


def test_a_malformed_token_list_refuses_everyone(monkeypatch):
    with pytest.raises(Auth.exceptions.HTTPException) as info:
        _who(monkeypatch, "alice=short", "127.0.0.1")
    assert info.value.status_code == 401
