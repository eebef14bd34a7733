"""Which web pages may talk to the chat: the defence against cross-site websocket hijacking.

Browsers attach an `Origin` header to websocket handshakes and to cross-site
POSTs, and a page cannot forge it. So a request from a browser is allowed only
when its origin is exactly (scheme, host and port) one of:

- an origin the operator listed in ALLOWED_ORIGINS;
- the server's own, from PUBLIC_URL; never from the request's `Host`, which a DNS
  rebinding page controls (its origin and Host are both the attacker's name);
- a local page (localhost, 127.0.0.1, [::1]) on any port in development (`chatbot serve`);
- otherwise, the server's own pages when it is reached on a loopback address (the Procfile
  run on a laptop, the eval tool): a loopback Origin whose port is the port this server
  listens on, with a loopback Host. No page elsewhere can make a browser send a loopback
  Origin with a loopback Host, and another local app's page (another port) is refused. The
  port is the socket's own, not the Host's, which websocket clients such as
  simple-websocket's send without one.

Requests without an Origin come from non-browser clients (curl, scripts, the eval
tool); they cannot be used for hijacking a patient's browser, so they are allowed.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from chatbot.config import normal_origin

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def own_origin(public_url: str | None) -> str | None:
    """The origin of PUBLIC_URL (its path, if any, is not part of an origin)."""
    if not public_url:
        return None
    parts = urlsplit(public_url)
    return normal_origin(f"{parts.scheme}://{parts.netloc}")


def check(origin: str | None, host: str | None, allowed: tuple[str, ...],
          own: str | None = None, development: bool = False,
          port: int | None = None) -> str | None:
    """The normalised origin when a request with this Origin (and Host) may chat, "" for a
    request without an Origin (not a browser), None when it is refused.

    `allowed` holds origins as config.py normalises them; `own` is own_origin(PUBLIC_URL);
    `port` is the port the request reached this server on.
    """
    if origin is None:
        return ""
    normal = normal_origin(origin)
    if normal is None:
        return None  # includes "null" (sandboxed frames, file:// pages)
    if normal in allowed or normal == own:
        return normal
    if _hostname(normal) not in LOCAL_HOSTS:
        return None
    if development:
        return normal
    # this server's own page, the server reached on a loopback address
    if not host or _hostname(f"http://{host.strip()}") not in LOCAL_HOSTS or port is None:
        return None
    return normal if _port(normal) == port else None


def is_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...],
               own: str | None = None, development: bool = False,
               port: int | None = None) -> bool:
    """True when a request with this Origin and Host header may chat (see check)."""
    return check(origin, host, allowed, own, development, port) is not None


def _port(origin: str) -> int:
    parts = urlsplit(origin)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # a malformed Host header
        return None
