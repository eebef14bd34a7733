"""Reading a REST request's body: bounded in size and in time, every failure a clear error.

A client that sends its headers and then never its body would otherwise hold a worker's
slot for as long as it likes, and a malformed chunked body would surface as a 500 with a
traceback in the logs. Here a body is read from the WSGI input directly (werkzeug's
request.get_data would turn a broken chunked stream into an exception of its own):

- a declared Content-Length over the limit is refused before a byte is read (413), and a
  chunked body is read only until it passes the limit (413);
- under gunicorn's gevent workers the whole read must finish within `seconds` (408);
- any failure of the stream itself (a malformed chunk, a dropped connection) is 400.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from chatbot.config import Settings
from chatbot.server.chat import ProtocolError

READ_SIZE = 8192


class _TimedOut(Exception):
    """The body did not arrive in time (raised by a gevent Timeout inside the read)."""


def read_body(environ: dict, limit: int, seconds: float, settings: Settings) -> str:
    """The request body as text (invalid UTF-8 replaced), at most `limit` bytes."""
    stream = environ.get("wsgi.input")
    declared = _content_length(environ, settings)
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if stream is None or (declared is None and not chunked
                          and not environ.get("wsgi.input_terminated")):
        return ""
    if declared is not None and declared > limit:
        raise ProtocolError("message_too_large", settings)
    want = limit + 1 if declared is None else declared
    parts: list[bytes] = []
    got = 0
    try:
        with _deadline(environ, seconds):
            while got < want:
                part = stream.read(min(READ_SIZE, want - got))
                if not part:
                    break
                parts.append(part)
                got += len(part)
    except _TimedOut:
        raise ProtocolError("request_timeout", settings) from None
    except Exception:  # the client's bytes, not our bug: a broken chunk, a reset connection
        raise ProtocolError("invalid_body", settings) from None
    if got > limit:
        raise ProtocolError("message_too_large", settings)
    return b"".join(parts).decode("utf-8", "replace")


def _content_length(environ: dict, settings: Settings) -> int | None:
    raw = environ.get("CONTENT_LENGTH", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ProtocolError("invalid_body", settings)
    return int(raw)


@contextmanager
def _deadline(environ: dict, seconds: float) -> Iterator[None]:
    """A gevent Timeout around the read when this is a gevent worker's socket; elsewhere
    (tests' in-process client) the body is already in memory and cannot stall."""
    if not _cooperative(environ):
        yield
        return
    from gevent import Timeout
    with Timeout(seconds, _TimedOut):
        yield


def _cooperative(environ: dict) -> bool:
    if "gunicorn.socket" not in environ:
        return False
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")
