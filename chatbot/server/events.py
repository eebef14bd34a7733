"""Structured logs: one JSON object per line on stdout.

Questions are health information, so nothing here logs message text unless the
operator opted in with LOG_QUESTIONS=1; callers pass the question separately and
this module decides whether it is written.
"""
from __future__ import annotations

import atexit
import functools
import json
import math
import sys
import threading
import time
import traceback
from typing import IO, Any

_ENCODER = json.JSONEncoder(default=str)  # anything but a plain string or number


# Reply lines, one per message, are written in batches at most this long after the first
# waiting one: a write and flush per line cost as much as serving a cached reply. Every
# other event is written at once, with any reply lines still waiting before it.
BATCH_SECONDS = 0.2


class EventLog:
    """Writes events as JSON lines that log shippers can parse without configuration."""

    def __init__(self, log_questions: bool = False, stream: IO[str] | None = None):
        self.log_questions = log_questions
        self.stream = stream
        self._waiting: list[str] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        atexit.register(self.flush)

    def emit(self, event: str, question: str | None = None, **fields: Any) -> None:
        """Logs one event; `question` is dropped unless questions may be logged."""
        record = {"ts": round(time.time(), 3), "event": event, **fields}
        if question is not None and self.log_questions:
            record["question"] = question
        self._write(json_line(record))

    def reply(self, channel: str, kind: str, confidence: float, chars: int, latency_ms: float,
              question: str | None = None) -> None:
        """The event logged for every answer: the same line as `emit("reply", ...)` writes,
        formatted directly and written within BATCH_SECONDS. It is logged once per message,
        and the general path (a dict, the JSON encoder, a write) cost about as much as the
        rest of serving a cached reply."""
        if self.log_questions:
            self.emit("reply", question=question, channel=channel, kind=kind,
                      confidence=confidence, chars=chars, latency_ms=latency_ms)
            return
        line = ('{"ts": ' + repr(round(time.time(), 3)) + _reply_fields(channel, kind, confidence)
                + str(chars) + ', "latency_ms": ' + _number(latency_ms) + "}")
        with self._lock:
            self._waiting.append(line)
            if self._timer is None:
                self._timer = threading.Timer(BATCH_SECONDS, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Writes the reply lines still waiting."""
        self._write(None)

    def _write(self, line: str | None) -> None:
        with self._lock:
            lines, self._waiting = self._waiting, []
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if line is not None:
            lines.append(line)
        if not lines:
            return
        stream = self.stream or sys.stdout
        try:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout must never break a chat
            pass

    def failure(self, event: str, exc: BaseException, **fields: Any) -> None:
        """Logs an exception with its frames but not its message, which may quote the question."""
        frames = traceback.format_tb(exc.__traceback__)
        self.emit(event, error=type(exc).__name__, traceback="".join(frames), **fields)


def _number(value: Any) -> str:
    """A finite float as json.dumps writes it (its repr), without the encoder's overhead."""
    if type(value) is float and math.isfinite(value):
        return repr(value)
    return json_line(value)


@functools.lru_cache(maxsize=4096)
def _reply_fields(channel: str, kind: str, confidence: float) -> str:
    """The middle of a reply line, which repeats: few channels and kinds, rounded confidences."""
    return (f', "event": "reply", "channel": {json_line(channel)}, "kind": {json_line(kind)}, '
            f'"confidence": {_number(confidence)}, "chars": ')


def json_line(record: Any) -> str:
    """`json.dumps(record, default=str)` through one shared encoder.

    This runs for every message the server answers, and json.dumps with `default` builds a
    new encoder on each call. ASCII output: lone surrogates in a string cannot break a write.
    """
    return _ENCODER.encode(record)
