"""The origin check on its own: which pages may open a chat (chatbot/server/origins.py)."""
import pytest

from chatbot.server.origins import is_allowed

HOST = "chat.riverside-derm.example"
LISTED = ("https://riverside-derm.example", "https://www.riverside-derm.example")


@pytest.mark.parametrize("origin", [
    None,                                   # curl, scripts: no browser, no hijacking
    "https://chat.riverside-derm.example",  # the server's own pages (demo, embed example)
    "http://chat.riverside-derm.example",   # same host behind a TLS-terminating proxy
    "https://riverside-derm.example",       # listed in ALLOWED_ORIGINS
    "https://WWW.Riverside-Derm.example/",  # browsers' case and a stray slash
    "http://localhost:5173", "http://127.0.0.1:8000", "http://[::1]:3000", "https://localhost",
])
def test_allowed(origin):
    assert is_allowed(origin, HOST, LISTED)


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "null",                                       # sandboxed iframes, file:// pages
    "https://riverside-derm.example.evil.example",
    "https://chat.riverside-derm.example.evil.example",
    "http://localhost.evil.example",
    "https://evil.example@chat.riverside-derm.example",
    "ftp://chat.riverside-derm.example",
    "https://chat.riverside-derm.example:8443",   # another port is another origin
    "https://chat.riverside-derm.example/path",
    "http://127.0.0.1:notaport",
    "",
])
def test_refused(origin):
    assert not is_allowed(origin, HOST, LISTED)


def test_own_origin_needs_a_host_header():
    assert not is_allowed("https://chat.riverside-derm.example", None, ())
