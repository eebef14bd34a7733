"""Structured logs: one JSON object per line on stdout.

Questions are health information, so nothing here logs message text unless the
operator opted in with LOG_QUESTIONS=1; callers pass the question separately and
this module decides whether it is written.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from typing import IO, Any

_ENCODER = json.JSONEncoder(default=str)  # anything but a plain string or number


class EventLog:
    """Writes events as JSON lines that log shippers can parse without configuration."""

    def __init__(self, log_questions: bool = False, stream: IO[str] | None = None):
        self.log_questions = log_questions
        self.stream = stream

    def emit(self, event: str, question: str | None = None, **fields: Any) -> None:
        """Logs one event; `question` is dropped unless questions may be logged."""
        record = {"ts": round(time.time(), 3), "event": event, **fields}
        if question is not None and self.log_questions:
            record["question"] = question
        line = json_line(record)
        stream = self.stream or sys.stdout
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout must never break a chat
            pass

    def failure(self, event: str, exc: BaseException, **fields: Any) -> None:
        """Logs an exception with its frames but not its message, which may quote the question."""
        frames = traceback.format_tb(exc.__traceback__)
        self.emit(event, error=type(exc).__name__, traceback="".join(frames), **fields)


def json_line(record: dict[str, Any]) -> str:
    """`json.dumps(record, default=str)` through one shared encoder.

    This runs for every message the server answers, and json.dumps with `default` builds a
    new encoder on each call. ASCII output: lone surrogates in a string cannot break a write.
    """
    return _ENCODER.encode(record)
