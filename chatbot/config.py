"""Every setting the chatbot reads from its environment, in one place.

Operators configure a deployment only through environment variables (12-factor),
so the CLI, the server and the tests all build a `Settings` with `from_env()`
and pass it down; nothing else in the package reads `os.environ`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from urllib.parse import urlsplit

IPNetwork = IPv4Network | IPv6Network

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"


class ConfigError(ValueError):
    """A setting has a value the chatbot cannot use; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _cache_dir(env: Mapping[str, str]) -> Path | None:
    """CACHE_DIR, else the XDG cache folder; CACHE_DIR=off keeps nothing on disk."""
    raw = env.get("CACHE_DIR", "").strip()
    if raw.lower() in {"off", "none", "0"}:
        return None
    if raw:
        return Path(raw)
    base = env.get("XDG_CACHE_HOME", "").strip() or (Path.home() / ".cache")
    return Path(base) / "eczema-chatbot"


DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_origin(raw: str) -> str | None:
    """An origin as browsers send it, `scheme://host[:port]` in lower case without the
    scheme's default port, or None when `raw` is not one (a path, `*`, `null`, no scheme)."""
    raw = raw.strip().lower()
    if raw.endswith("/"):
        raw = raw[:-1]
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query \
            or parts.fragment or "@" in parts.netloc or any(c.isspace() or c in "*\\\"'<>" for c in raw):
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def _origins(raw: str) -> tuple[str, ...]:
    """ALLOWED_ORIGINS: comma-separated origins, each exactly as a browser sends it. A value
    that is not one (`*`, a path, no scheme) stops start-up: a typo would otherwise lock every
    clinic page out, or let in more than the operator meant."""
    origins = []
    for item in (o for o in raw.split(",") if o.strip()):
        origin = normal_origin(item)
        if origin is None:
            raise ConfigError(f"ALLOWED_ORIGINS must list origins like https://clinic.example "
                              f"(scheme and host, an optional port, no path or *); got {item.strip()!r}")
        origins.append(origin)
    return tuple(dict.fromkeys(origins))


def _networks(raw: str) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES: addresses or networks (127.0.0.1, 10.0.0.0/8) whose X-Forwarded-For
    names the client; nobody else's is believed, since any client can send that header."""
    networks = []
    for item in (p.strip() for p in raw.split(",") if p.strip()):
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"TRUSTED_PROXIES must list IP addresses or networks like "
                              f"127.0.0.1 or 10.0.0.0/8; got {item!r}") from None
    return tuple(networks)


def _public_url(env: Mapping[str, str]) -> str | None:
    """PUBLIC_URL: the address patients' browsers reach this server at (no trailing slash)."""
    raw = env.get("PUBLIC_URL", "").strip()
    if not raw:
        return None
    example = "like https://chat.example-clinic.org or https://example.org/chat"
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname \
            or parts.query or parts.fragment or parts.username or "\\" in raw \
            or any(c.isspace() or c in "\"'<>?#" for c in raw):
        raise ConfigError(f"PUBLIC_URL must be the server's address, {example}; got {raw!r}")
    return raw.rstrip("/")


def _float_min(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    return _float(env, name, default, minimum, float("inf"))


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    emergency_number: str = "911"
    poison_control_number: str = "1-800-222-1222"
    crisis_line: str = "988"
    allowed_origins: tuple[str, ...] = ()
    public_url: str | None = None  # e.g. https://chat.example-clinic.org: fills in /embed.html
    log_questions: bool = False
    min_confidence: float = 0.6  # below this an answer becomes "not covered"
    reply_cache_size: int = 4096  # recent replies kept in memory (0: none)
    cache_dir: Path | None = None  # where `ask` keeps the article's word stems between runs
    # websocket limits (the protocol in docs/protocol.md)
    # A patient may tell their whole story before the question: the longest message is what
    # the engine reads (dialogue.MAX_INPUT_CHARS), and a frame holds it even with every
    # character escaped as \uXXXX by a client's JSON encoder (6 bytes each)
    max_text_chars: int = 2000
    max_frame_bytes: int = 16384
    rate_limit_messages: int = 20
    rate_limit_seconds: int = 10
    idle_timeout: int = 300
    ping_interval: int = 25
    send_timeout: int = 10  # seconds a reply may wait for a client that is not reading
    # per-client limits (one client: one address, see chatbot/server/clients.py), per worker
    development: bool = False  # `chatbot serve`: pages on localhost may chat
    trusted_proxies: tuple[IPNetwork, ...] = ()
    client_chats: int = 100  # open chats and REST requests at once
    client_messages: int = 2000  # chat messages at once (a burst) across all its chats...
    client_message_rate: float = 50.0  # ...then this many a second
    client_asks: int = 120  # REST questions at once (a burst)...
    client_ask_rate: float = 2.0  # ...then this many a second
    body_timeout: int = 10  # seconds a REST request may take to send its body

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        corpus = env.get("CORPUS_DIR", "").strip()
        return cls(
            corpus_dir=Path(corpus) if corpus else DEFAULT_CORPUS_DIR,
            emergency_number=env.get("EMERGENCY_NUMBER", "").strip() or "911",
            poison_control_number=env.get("POISON_CONTROL_NUMBER", "").strip() or "1-800-222-1222",
            crisis_line=env.get("CRISIS_LINE", "").strip() or "988",
            allowed_origins=_origins(env.get("ALLOWED_ORIGINS", "")),
            public_url=_public_url(env),
            log_questions=_flag(env, "LOG_QUESTIONS"),
            min_confidence=_float(env, "MIN_CONFIDENCE", 0.6, 0.0, 1.0),
            reply_cache_size=_int(env, "REPLY_CACHE_SIZE", 4096, 0),
            cache_dir=_cache_dir(env),
            max_text_chars=_int(env, "MAX_TEXT_CHARS", 2000, 1),
            max_frame_bytes=_int(env, "MAX_FRAME_BYTES", 16384, 64),
            rate_limit_messages=_int(env, "RATE_LIMIT_MESSAGES", 20, 1),
            rate_limit_seconds=_int(env, "RATE_LIMIT_SECONDS", 10, 1),
            idle_timeout=_int(env, "IDLE_TIMEOUT", 300, 1),
            ping_interval=_int(env, "PING_INTERVAL", 25, 0),
            send_timeout=_int(env, "SEND_TIMEOUT", 10, 1),
            trusted_proxies=_networks(env.get("TRUSTED_PROXIES", "")),
            client_chats=_int(env, "CLIENT_CHATS", 100, 1),
            client_messages=_int(env, "CLIENT_MESSAGES", 2000, 1),
            client_message_rate=_float_min(env, "CLIENT_MESSAGE_RATE", 50.0, 0.01),
            client_asks=_int(env, "CLIENT_ASKS", 120, 1),
            client_ask_rate=_float_min(env, "CLIENT_ASK_RATE", 2.0, 0.01),
            body_timeout=_int(env, "BODY_TIMEOUT", 10, 1),
        )
