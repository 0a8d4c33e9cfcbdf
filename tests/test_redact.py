"""Redaction of URL credentials, table and property tests: the ``user:password@`` part runs to the
last ``@`` before the host (as ``urlsplit`` reads it), so a password holding an ``@`` never leaks."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurelia.redact import has_url_credentials, redact_text, redact_url


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("http://bob:pa@ssW0rd@host/v1", "http://***@host/v1"),
        ("http://bob:pa@ssW0rd@host:8000/v1?model=m", "http://***@host:8000/v1?model=m"),
        ("http://a@b@c@host", "http://***@host"),
        ("http://user@host", "http://***@host"),
        ("https://host/v1?model=m&api_key=k3y&x=1", "https://host/v1?model=m&api_key=***&x=1"),
        ("see http://host/path@v2 and mail bob@example.com", "see http://host/path@v2 and mail bob@example.com"),
        ("http://host?q=a@b", "http://host?q=a@b"),
        ("two: http://u:p1@h1/x and http://v:p2@h2/y", "two: http://***@h1/x and http://***@h2/y"),
        ("http://host/v1?model=m", "http://host/v1?model=m"),
    ],
)
def test_redact_url_table(text, redacted):
    assert redact_url(text) == redacted
    assert has_url_credentials(text) is (text != redacted)


USERINFO = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="/?#\\ \t\r\n\x0b\x0c", min_codepoint=33), min_size=1, max_size=30
)
HOST = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6})?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(USERINFO, USERINFO, HOST, st.sampled_from(["", "/v1", "/v1?model=m", ":8000/v1?model=m#frag"]))
def test_userinfo_never_survives(user, password, host, tail):
    url = f"http://{user}:{password}@{host}{tail}"
    out = redact_url(url)
    assert out == f"http://***@{host}{tail}"  # all of user:password is gone, whatever '@' it holds
    if not any(c in url for c in "[]"):  # urlsplit reads brackets anywhere in the authority as IPv6
        assert urlsplit(url).hostname == host.lower()  # the host redaction keeps is the one the client reads
    assert has_url_credentials(url)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_redaction_is_idempotent_and_total(text):
    once = redact_text(text, secrets=[])
    assert redact_text(once, secrets=[]) == once
