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
from urllib.parse import urlsplit

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


def _origins(raw: str) -> tuple[str, ...]:
    """Origins are compared exactly as browsers send them: scheme://host[:port], no slash."""
    return tuple(o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())


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
    max_text_chars: int = 500
    max_frame_bytes: int = 4096
    rate_limit_messages: int = 20
    rate_limit_seconds: int = 10
    idle_timeout: int = 300
    ping_interval: int = 25
    send_timeout: int = 10  # seconds a reply may wait for a client that is not reading

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
            max_text_chars=_int(env, "MAX_TEXT_CHARS", 500, 1),
            max_frame_bytes=_int(env, "MAX_FRAME_BYTES", 4096, 64),
            rate_limit_messages=_int(env, "RATE_LIMIT_MESSAGES", 20, 1),
            rate_limit_seconds=_int(env, "RATE_LIMIT_SECONDS", 10, 1),
            idle_timeout=_int(env, "IDLE_TIMEOUT", 300, 1),
            ping_interval=_int(env, "PING_INTERVAL", 25, 0),
            send_timeout=_int(env, "SEND_TIMEOUT", 10, 1),
        )
