"""Structured logs: one JSON object per line on stdout.

Questions are health information, so nothing here logs message text unless the
operator opted in with LOG_QUESTIONS=1; callers pass the question separately and
this module decides whether it is written.

Hostile load (issue 14) must not flood the log or fill the disk: every string a caller
passes (an Origin, a path, anything taken from a request) is cut to CLIP_CHARS with a
marker saying how long it was, and an event that anyone can provoke cheaply (a refused
origin, a REST error) is written at most SUMMARY_AFTER times per SUMMARY_WINDOW for each
key, then summarised in one line: {"event": "refused_origin", "repeated": 1234, "window_s": 60}.
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
from typing import IO, Any, Callable

_ENCODER = json.JSONEncoder(default=str)  # anything but a plain string or number


# Reply lines, one per message, are written in batches at most this long after the first
# waiting one: a write and flush per line cost as much as serving a cached reply. Every
# other event is written at once, with any reply lines still waiting before it.
BATCH_SECONDS = 0.2

# A string field longer than this is written as its first CLIP_CHARS characters and a marker,
# "…(8192 chars)", giving its full length. Fields named in CLIP_CHARS_BY_FIELD have their own
# limit (None: never cut): `traceback` is our own stack frames; `question` is only logged when
# the operator asked for it (LOG_QUESTIONS=1) and a real one runs to MAX_TEXT_CHARS (2,000).
CLIP_CHARS = 200
CLIP_CHARS_BY_FIELD: dict[str, int | None] = {"traceback": None, "question": 4000}
_CLIP_DEPTH = 4  # containers nested deeper are written as one clipped string

# Repeated events: after SUMMARY_AFTER lines with the same key within SUMMARY_WINDOW seconds
# (from the first of them), further ones are only counted, and one line with "repeated" (how
# many were not written) and "window_s" is written when the window has ended (at the next
# event after it) or on flush(). The key is the event and the fields in SUMMARY_KEY_FIELDS,
# values our code chooses from a short list (an error code, a channel), never a string from
# the request: an attacker varying the Origin must not get a line per request. Counted per
# worker process. 20 a minute, not fewer: a misconfigured clinic page should show its origins
# (and tests/test_server.py refuses 14 origins in a burst and looks for each).
SUMMARY_AFTER = 20
SUMMARY_WINDOW = 60
SUMMARY_KEY_FIELDS = ("code", "channel", "error", "reason")
# Never summarised: `start` is once per server; `connect` and `disconnect` are one per
# connection, like `reply` one per message: the traffic record, as many lines as the work
# done (bounded per client by nginx's limits), and carrying no string from the request.
NOT_SUMMARISED = frozenset({"start", "connect", "disconnect", "reply"})
# Memory: at most this many keys are tracked; past it, new keys share one per event name.
MAX_SUMMARY_KEYS = 256


class EventLog:
    """Writes events as JSON lines that log shippers can parse without configuration."""

    def __init__(self, log_questions: bool = False, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 summary_after: int = SUMMARY_AFTER, summary_window: float = SUMMARY_WINDOW):
        self.log_questions = log_questions
        self.stream = stream
        self.summary_after = summary_after
        self.summary_window = summary_window
        self._clock = clock  # for the summary windows only; `ts` is always the wall clock
        self._waiting: list[str] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        # key -> [window start, events in the window, events not written]
        self._windows: dict[tuple, list] = {}
        self._next_end = math.inf  # the earliest end of a window in _windows
        atexit.register(self.flush)

    def emit(self, event: str, question: str | None = None, **fields: Any) -> None:
        """Logs one event; `question` is dropped unless questions may be logged. Long strings
        are clipped, and a repeated event may be counted instead of written (see above)."""
        record = {"ts": round(time.time(), 3), "event": event}
        for name, value in fields.items():
            record[name] = _clip(value, CLIP_CHARS_BY_FIELD.get(name, CLIP_CHARS))
        if question is not None and self.log_questions:
            record["question"] = _clip(question, CLIP_CHARS_BY_FIELD["question"])
        line = json_line(record)
        if event in NOT_SUMMARISED:
            self._write([line])
            return
        with self._lock:
            lines = self._count(event, record, line)
        if lines:
            self._write(lines)

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
                self._timer = threading.Timer(BATCH_SECONDS, self._flush_replies)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Writes the reply lines still waiting, and a summary of each repeated event not
        written so far (its window goes on: later repeats in it are still only counted)."""
        with self._lock:
            summaries = []
            for key, window in self._windows.items():
                if window[2]:
                    summaries.append(self._summary(key, window[2]))
                    window[2] = 0
        self._write(summaries)

    def _flush_replies(self) -> None:
        """The batch timer's flush: reply lines only, so summaries keep their windows."""
        self._write([])

    def _count(self, event: str, record: dict, line: str) -> list[str]:
        """The lines to write for this event (under the lock): summaries of windows that have
        ended, then the event's own line unless its key is over SUMMARY_AFTER in its window."""
        now = self._clock()
        out: list[str] = []
        if now >= self._next_end:
            self._end_windows(now, out)
        key = (event, tuple((name, _key_value(record[name]))
                            for name in SUMMARY_KEY_FIELDS if name in record))
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= MAX_SUMMARY_KEYS:  # bounded: fall back to the event name
                key = (event, ())
                window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = [now, 0, 0]
                self._next_end = min(self._next_end, now + self.summary_window)
        window[1] += 1
        if window[1] <= self.summary_after:
            out.append(line)
        else:
            window[2] += 1
        return out

    def _end_windows(self, now: float, out: list[str]) -> None:
        """Forgets every window that has ended, adding a summary line for each that had
        events not written."""
        next_end = math.inf
        for key, window in list(self._windows.items()):
            end = window[0] + self.summary_window
            if now >= end:
                del self._windows[key]
                if window[2]:
                    out.append(self._summary(key, window[2]))
            else:
                next_end = min(next_end, end)
        self._next_end = next_end

    def _summary(self, key: tuple, repeated: int) -> str:
        event, fields = key
        return json_line({"ts": round(time.time(), 3), "event": event, **dict(fields),
                          "repeated": repeated, "window_s": self.summary_window})

    def _write(self, extra: list[str]) -> None:
        """Writes the reply lines waiting, then `extra`, in one write."""
        with self._lock:
            lines, self._waiting = self._waiting, []
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        lines.extend(extra)
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


def _clip(value: Any, limit: int | None, depth: int = 0) -> Any:
    """`value` with every string in it longer than `limit` cut to `limit` characters and a
    marker with its length. Values json cannot write as they are become str(value), as
    json_line would write them, so they are clipped too."""
    if limit is None:
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else f"{value[:limit]}…({len(value)} chars)"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth < _CLIP_DEPTH:
        if isinstance(value, dict):
            return {_clip(k if _is_key(k) else str(k), limit): _clip(v, limit, depth + 1)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_clip(v, limit, depth + 1) for v in value]
    return _clip(str(value), limit)


def _is_key(value: Any) -> bool:
    """Whether json writes `value` as an object key as it is."""
    return value is None or isinstance(value, (str, bool, int, float))


def _key_value(value: Any) -> Any:
    """A field's value as part of a summary key: hashable, and already clipped."""
    if _is_key(value):
        return value
    return json_line(value)


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
