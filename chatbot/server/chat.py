"""The chat protocol, independent of the transport: validating what a client sent,
asking the engine, and shaping what goes back.

The websocket route and the REST route both use these functions, so the two
validate identically and give the same reply to the same question. Nothing here
imports Flask.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from chatbot.config import Settings
from chatbot.server.events import EventLog
from chatbot.server.ratelimit import SlidingWindow

MAX_ID_CHARS = 100

# Every error a client can get: code -> (HTTP status for REST, message a person can act on).
ERRORS: dict[str, tuple[int, str]] = {
    "message_too_large": (413, "The message is too large. Send at most {max_frame_bytes} bytes."),
    "binary_frame": (400, "Binary frames are not supported. Send JSON as a text frame."),
    "invalid_json": (400, "The message is not valid JSON."),
    "invalid_message": (400, "The message must be a JSON object, like "
                             '{{"type": "ask", "id": "1", "text": "what are biologics?"}}.'),
    "invalid_id": (400, "\"id\" must be a string or a number of at most {max_id} characters."),
    "unknown_type": (400, "Unknown message type. Use \"ask\" or \"reset\"."),
    "invalid_text": (400, "\"text\" is missing or is not a string."),
    "empty_text": (400, "The question is empty. Type a question and send it again."),
    "text_too_long": (400, "The question is too long. Keep it under {max_text_chars} characters."),
    "invalid_context": (400, "\"context\" must be the object from the last reply, or null."),
    "rate_limited": (429, "Too many messages: at most {rate_limit_messages} every "
                          "{rate_limit_seconds} seconds. Wait a moment and try again."),
    "internal_error": (500, "Something went wrong on our side. Please try again."),
    "forbidden_origin": (403, "This site may not use the chat. Its administrator can add it to "
                              "ALLOWED_ORIGINS."),
}


class ProtocolError(Exception):
    """A message the server cannot act on; `code` is stable, `message` is for people."""

    def __init__(self, code: str, settings: Settings, msg_id: Any = None):
        self.code = code
        self.status, template = ERRORS[code]
        self.message = template.format(
            max_frame_bytes=settings.max_frame_bytes, max_text_chars=settings.max_text_chars,
            rate_limit_messages=settings.rate_limit_messages, max_id=MAX_ID_CHARS,
            rate_limit_seconds=settings.rate_limit_seconds)
        self.msg_id = msg_id
        super().__init__(f"{code}: {self.message}")

    def frame(self) -> dict:
        """The error as the protocol sends it."""
        return {"type": "error", "id": self.msg_id, "code": self.code, "message": self.message}


def parse_message(raw: str | bytes, settings: Settings) -> dict:
    """Turns one frame (or REST body) into a JSON object, refusing anything else."""
    if isinstance(raw, (bytes, bytearray)):
        raise ProtocolError("binary_frame", settings)
    if too_large(raw, settings):
        raise ProtocolError("message_too_large", settings)
    return _json_object(raw, settings)


def too_large(raw: str, settings: Settings) -> bool:
    """Whether a frame is over max_frame_bytes (counted cheaply when it clearly is not)."""
    return len(raw) * 4 > settings.max_frame_bytes \
        and len(raw.encode("utf-8", "surrogatepass")) > settings.max_frame_bytes


def _json_object(raw: str, settings: Settings) -> dict:
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested arrays
        raise ProtocolError("invalid_json", settings) from None
    if not isinstance(msg, dict):
        raise ProtocolError("invalid_message", settings)
    return msg


def message_id(msg: dict, settings: Settings) -> str | int | None:
    """The client's id for a message, echoed on its reply so it can match them up."""
    msg_id = msg.get("id")
    if msg_id is None:
        return None
    if isinstance(msg_id, bool) or not isinstance(msg_id, (str, int)) \
            or len(str(msg_id)) > MAX_ID_CHARS:
        raise ProtocolError("invalid_id", settings)
    return msg_id


def question_text(msg: dict, settings: Settings, msg_id: Any = None) -> str:
    """The question in a message, trimmed, within the length patients are allowed."""
    text = msg.get("text")
    if not isinstance(text, str):
        raise ProtocolError("invalid_text", settings, msg_id)
    text = text.strip()
    if not text:
        raise ProtocolError("empty_text", settings, msg_id)
    if len(text) > settings.max_text_chars:
        raise ProtocolError("text_too_long", settings, msg_id)
    return text


def client_context(msg: dict, settings: Settings, msg_id: Any = None) -> dict | None:
    """The `context` a client handed back from its last reply; None when it sent none.

    Clients keep the context so a conversation outlives a connection (REST has no
    connection at all; the widget opens a new websocket on every page). The object is
    opaque: the engine keeps only what it recognises in it.
    """
    context = msg.get("context")
    if context is None:
        return None
    if not isinstance(context, dict):
        raise ProtocolError("invalid_context", settings, msg_id)
    return context


def answer(bot, text: str, state: dict, settings: Settings, log: EventLog, channel: str,
           msg_id: Any = None) -> tuple[dict, dict]:
    """Asks the engine and logs the outcome; an engine failure becomes `internal_error`."""
    started = time.perf_counter()
    try:
        reply, new_state = bot.reply(text, state)
    except Exception as exc:  # never let an engine bug reach the patient as a traceback
        log.failure("internal_error", exc, channel=channel, question=text)
        raise ProtocolError("internal_error", settings, msg_id) from None
    log.reply(channel, reply.get("kind"), reply.get("confidence"), len(text),
              round(1000 * (time.perf_counter() - started), 2), question=text)
    return reply, new_state


def rescue(bot, raw: str | bytes, refusal: ProtocolError, log: EventLog, channel: str) -> dict:
    """The crisis or emergency reply for a message a limit would turn away (too long, too
    large, too many), when it carries any risk; otherwise the refusal is raised.

    Safety comes before every limit: someone in crisis who writes at length, or fast, is
    helped, not told to shorten their message. Only the question is read: a frame that is not
    a JSON object with a text gets the refusal.
    """
    text = None
    if isinstance(raw, str):
        try:
            msg = json.loads(raw)
            text = msg.get("text") if isinstance(msg, dict) else None
        except (ValueError, RecursionError):
            pass
    reply = bot.safety_reply(text.strip()) if isinstance(text, str) and text.strip() else None
    if reply is None:
        raise refusal
    log.reply(channel, reply["kind"], reply["confidence"], len(text), 0.0, question=text)
    return {"type": "reply", "id": refusal.msg_id, **{k: v for k, v in reply.items() if k != "type"}}


class ReplyFrame:
    """A reply as the websocket sends it, serialized once: only the message id differs
    between patients who ask the same question in the same context."""

    def __init__(self, reply: dict, state: dict):
        self.kind, self.confidence, self.state = reply.get("kind"), reply.get("confidence"), state
        self._head = '{"type": ' + json.dumps(reply.get("type", "reply")) + ', "id": '
        body = {k: v for k, v in reply.items() if k != "type"}
        self._tail = ", " + json.dumps({**body, "context": state})[1:]

    def text(self, msg_id: Any) -> str:
        """The frame's JSON, the same as json.dumps of {"type", "id", **reply, "context"}."""
        return self._head + _json_id(msg_id) + self._tail


def _json_id(msg_id: Any) -> str:
    """json.dumps(msg_id); the ids clients send ("3", "c1-42") need no escaping, so the
    encoder is skipped for them."""
    if type(msg_id) is str and msg_id.isascii() and msg_id.isprintable() \
            and '"' not in msg_id and "\\" not in msg_id:
        return f'"{msg_id}"'
    return json.dumps(msg_id)


class ReplyFrames:
    """Recently sent replies by (question, context), shared by a process's connections.

    Most of a cached reply's cost on the wire was building and serializing it again (the
    engine keeps its own cache of reply objects); this keeps the finished JSON. Nothing is
    written anywhere, and `size` 0 keeps nothing (REPLY_CACHE_SIZE).
    """

    def __init__(self, size: int):
        self.size = size
        self._frames: dict[tuple, ReplyFrame] = {}

    @staticmethod
    def key(text: str, state: dict) -> tuple | None:
        """The engine's reply depends on the text and the context's medicine and topic only;
        a context holding anything else there is answered without the cache."""
        entity, topic = state.get("entity"), state.get("topic")
        if not all(v is None or isinstance(v, str) for v in (entity, topic)):
            return None
        return text, entity, topic

    def get(self, key: tuple | None) -> ReplyFrame | None:
        return self._frames.get(key) if key is not None else None

    def put(self, key: tuple | None, frame: ReplyFrame) -> None:
        if key is None or not self.size:
            return
        if len(self._frames) >= self.size:
            self._frames.pop(next(iter(self._frames)))  # the oldest
        self._frames[key] = frame


class Conversation:
    """One websocket connection: its context, its rate limit and its error counts.

    A `context` sent with a question replaces the connection's own, so a client that
    reconnects (a new page, a dropped network) carries its conversation on.
    """

    def __init__(self, bot, settings: Settings, log: EventLog, frames: ReplyFrames | None = None):
        self.bot = bot
        self.settings = settings
        self.log = log
        self.frames = frames or ReplyFrames(0)
        self.state: dict = {}
        self.window = SlidingWindow(settings.rate_limit_messages, settings.rate_limit_seconds)
        self.messages = 0
        self.errors: Counter[str] = Counter()

    def welcome(self) -> dict:
        """The first frame of every connection."""
        return {"type": "welcome", **self.bot.welcome()}

    def handle(self, raw: str | bytes) -> str:
        """The one frame (as JSON text) that answers one incoming frame."""
        self.messages += 1
        try:
            return self._handle(raw)
        except ProtocolError as err:
            self.errors[err.code] += 1
            return json.dumps(err.frame())

    def _handle(self, raw: str | bytes) -> str:
        try:
            if not self.window.allow():
                raise ProtocolError("rate_limited", self.settings, self._id_if_any(raw))
            if isinstance(raw, str) and too_large(raw, self.settings):
                raise ProtocolError("message_too_large", self.settings, self._id_if_any(raw))
        except ProtocolError as refusal:
            return json.dumps({**rescue(self.bot, raw, refusal, self.log, "ws"),
                               "context": self.state})
        msg = parse_message(raw, self.settings)
        msg_id = message_id(msg, self.settings)
        kind = msg.get("type")
        if kind == "reset":
            self.state = {}
            return json.dumps({"type": "reset", "id": msg_id, "ok": True})
        if kind != "ask":
            raise ProtocolError("unknown_type", self.settings, msg_id)
        try:
            text = question_text(msg, self.settings, msg_id)
        except ProtocolError as refusal:
            if refusal.code != "text_too_long":
                raise
            return json.dumps({**rescue(self.bot, raw, refusal, self.log, "ws"), "context": self.state})
        context = client_context(msg, self.settings, msg_id)
        start = self.state if context is None else context
        key = self.frames.key(text, start)
        frame = self.frames.get(key)
        if frame is None:
            reply, state = answer(self.bot, text, start, self.settings, self.log, "ws", msg_id)
            frame = ReplyFrame(reply, state)
            self.frames.put(key, frame)
        else:  # the same log line as a computed reply, so operators see every answer
            self.log.reply("ws", frame.kind, frame.confidence, len(text), 0.0, question=text)
        self.state = dict(frame.state)
        return frame.text(msg_id)

    def _id_if_any(self, raw: str | bytes) -> Any:
        """Best effort: the id of a refused frame, so the client knows which one it was."""
        if not isinstance(raw, str):
            return None
        try:
            return message_id(_json_object(raw, self.settings), self.settings)
        except ProtocolError:
            return None
