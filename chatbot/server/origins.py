"""Which web pages may talk to the chat: the defence against cross-site websocket hijacking.

Browsers attach an `Origin` header to websocket handshakes and to cross-site
POSTs, and a page cannot forge it. So a request from a browser is allowed only
when its origin is the server's own, a local development origin, or one the
operator listed in ALLOWED_ORIGINS. Requests without an Origin come from
non-browser clients (curl, scripts, the eval tool); they cannot be used for
hijacking a patient's browser, so they are allowed.
"""
from __future__ import annotations

from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """True when a request with this Origin and Host header may chat.

    `allowed` holds origins as config.py normalises them (lower case, no slash).
    """
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in allowed:
        return True
    try:
        parts = urlsplit(origin)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or not hostname or parts.path:
        return False  # includes "null" (sandboxed frames, file:// pages)
    if hostname in LOCAL_HOSTS:
        return True
    # The server's own origin: the page came from this host (scheme may differ behind a TLS proxy).
    return bool(host) and parts.netloc == host.strip().lower()
