"""The chat protocol, independent of the transport: validating what a client sent,
asking the engine, and shaping what goes back.

The websocket route and the REST route both use these functions, so the two
validate identically and give the same reply to the same question. Nothing here
imports Flask.
"""
from __future__ import annotations

import json
import math
import time
from collections import Counter
from typing import Any

from chatbot.config import Settings
from chatbot.core.state import START
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
    "too_many_chats": (429, "Too many chats are open from your network (at most {client_chats})."
                            " Close one and try again."),
    "invalid_body": (400, "The request body could not be read. Send it again."),
    "request_timeout": (408, "The request took too long to arrive. Please send it again."),
    "internal_error": (500, "Something went wrong on our side. Please try again."),
    "forbidden_origin": (403, "This site may not use the chat. Its administrator can add it to "
                              "ALLOWED_ORIGINS."),
}


class ProtocolError(Exception):
    """A message the server cannot act on; `code` is stable, `message` is for people."""

    def __init__(self, code: str, settings: Settings, msg_id: Any = None,
                 retry_after: float | None = None):
        self.code = code
        self.status, template = ERRORS[code]
        self.message = template.format(
            max_frame_bytes=settings.max_frame_bytes, max_text_chars=settings.max_text_chars,
            rate_limit_messages=settings.rate_limit_messages, max_id=MAX_ID_CHARS,
            rate_limit_seconds=settings.rate_limit_seconds, client_chats=settings.client_chats)
        self.msg_id = msg_id
        # whole seconds to wait before trying again (429s): the frame's `retry_after`, and
        # REST's Retry-After header
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))
        super().__init__(f"{code}: {self.message}")

    def frame(self) -> dict:
        """The error as the protocol sends it."""
        frame = {"type": "error", "id": self.msg_id, "code": self.code, "message": self.message}
        if self.retry_after is not None:
            frame["retry_after"] = self.retry_after
        return frame


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
    if not _valid_id(msg_id):
        raise ProtocolError("invalid_id", settings)
    return msg_id


def _valid_id(msg_id: Any) -> bool:
    return msg_id is None or not isinstance(msg_id, bool) and isinstance(msg_id, (str, int)) \
        and len(str(msg_id)) <= MAX_ID_CHARS


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


def reply_frame(bot, frames: "ReplyFrames", text: str, state, settings: Settings,
                log: EventLog, channel: str, msg_id: Any = None) -> "ReplyFrame":
    """The frame answering `text`: the public question's frame built at start, or the
    engine's reply (see answer). Both log the same line, so operators see every answer."""
    frame = frames.get(text, state)
    if frame is None:
        return ReplyFrame(*answer(bot, text, state, settings, log, channel, msg_id))
    log.reply(channel, frame.kind, frame.confidence, len(text), 0.0, question=text)
    return frame


def answer(bot, text: str, state, settings: Settings, log: EventLog, channel: str,
           msg_id: Any = None) -> tuple[dict, Any]:
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


def parse_quietly(raw: str | bytes, settings: Settings) -> dict | None:
    """A frame as a JSON object, or None when it is not one (no error: a refused frame)."""
    if not isinstance(raw, str):
        return None
    try:
        return _json_object(raw, settings)
    except ProtocolError:
        return None


def rescue(bot, msg: dict | None, refusal: ProtocolError, log: EventLog, channel: str,
           state, settings: Settings) -> tuple[dict, Any]:
    """The engine's reply (and the state after it) for a message a limit would turn away (too
    long, too large, too many), when it carries any risk; otherwise the refusal is raised.

    Safety comes before every limit: someone in crisis who writes at length, or fast, is
    helped, not told to shorten their message. The reply is graded as any other: the crisis
    or emergency reply where the risk is sure, else the answer to the message (read from its
    first characters, dialogue.MAX_INPUT_CHARS) with the safety notice first, so a long story
    with a dark word in it is answered with a notice rather than given the crisis reply. Only
    the question is read: a frame that is not a JSON object with a text gets the refusal.
    Callers bound what reading refused messages costs with the client's rescue budget
    (clients.py): past it a flood is refused unread.
    """
    if msg is None:
        raise refusal
    if refusal.msg_id is None and _valid_id(msg.get("id")):
        refusal.msg_id = msg.get("id")
    text = msg.get("text")
    if not isinstance(text, str) or not text.strip():
        raise refusal
    if not bot.carries_risk(text.strip(), state):
        raise refusal
    return answer(bot, text.strip(), state, settings, log, channel, refusal.msg_id)


class ReplyFrame:
    """A reply as the websocket sends it, serialized once: only the message id differs
    between patients who ask the same question in the same context. `state` is the
    engine's State after the reply (its wire form is the frame's `context`)."""

    def __init__(self, reply: dict, state):
        self.kind, self.confidence, self.state = reply.get("kind"), reply.get("confidence"), state
        self._type = json.dumps(reply.get("type", "reply"))
        body = {k: v for k, v in reply.items() if k != "type"}
        self._tail = ", " + json.dumps({**body, "context": state.context()})[1:]

    def rest_body(self, msg_id: Any) -> str:
        """The REST response: the same object, with `id` only when the request had one."""
        return self.text(msg_id) if msg_id is not None else '{"type": ' + self._type + self._tail

    def text(self, msg_id: Any) -> str:
        """The frame's JSON, the same as json.dumps of {"type", "id", **reply, "context"}."""
        return '{"type": ' + self._type + ', "id": ' + _json_id(msg_id) + self._tail


def _json_id(msg_id: Any) -> str:
    """json.dumps(msg_id); the ids clients send ("3", "c1-42") need no escaping, so the
    encoder is skipped for them."""
    if type(msg_id) is str and msg_id.isascii() and msg_id.isprintable() \
            and '"' not in msg_id and "\\" not in msg_id:
        return f'"{msg_id}"'
    return json.dumps(msg_id)


class ReplyFrames:
    """The server's one reply cache: the finished JSON of every public question's reply (the
    suggestion chips and the article's own questions: Bot.public_questions), built once at
    start and shared by a process's connections, websocket and REST.

    Most of a chip's cost on the wire was building and serializing its reply again. Only
    public questions, asked with no medicine or topic in the context, are kept, and all from
    the start: a reply served from here takes the same time whoever asked first, so its speed
    says nothing about what another patient typed. The engine keeps no cache of its own.
    `size` 0 keeps nothing (REPLY_CACHE_SIZE).
    """

    def __init__(self, size: int, bot=None):
        self.size = size
        self._frames: dict[str, ReplyFrame] = {}
        for text in (bot.public_questions() if bot is not None else [])[:size]:
            self._frames[text] = ReplyFrame(*bot.reply(text, {}))

    def get(self, text: str, state) -> ReplyFrame | None:
        """The frame for a public question asked in a new conversation (the State a
        conversation starts in: nothing to follow up on, no help shown before), else None."""
        if state != START:
            return None
        return self._frames.get(text)


class Conversation:
    """One websocket connection: its context, its rate limit and its error counts.

    A `context` sent with a question replaces the connection's own, so a client that
    reconnects (a new page, a dropped network) carries its conversation on.
    """

    def __init__(self, bot, settings: Settings, log: EventLog, frames: ReplyFrames | None = None,
                 client=None):
        self.bot = bot
        self.settings = settings
        self.log = log
        self.frames = frames or ReplyFrames(0)
        self.client = client  # clients.Client: the limits shared by all its chats, or None
        self.state = bot.state(None)  # the engine's State for this chat
        self.window = SlidingWindow(settings.rate_limit_messages, settings.rate_limit_seconds)
        self.messages = 0
        self.errors: Counter[str] = Counter()

    def welcome(self) -> dict:
        """The first frame of every connection, with the longest text an ask may carry, so
        the widget's box takes what this server takes (MAX_TEXT_CHARS is configurable)."""
        return {"type": "welcome", **self.bot.welcome(),
                "max_text_chars": self.settings.max_text_chars}

    def handle(self, raw: str | bytes) -> str:
        """The one frame (as JSON text) that answers one incoming frame."""
        self.messages += 1
        try:
            return self._handle(raw)
        except ProtocolError as err:
            self.errors[err.code] += 1
            return json.dumps(err.frame())

    def _handle(self, raw: str | bytes) -> str:
        refusal = self._limit(raw)
        if refusal is not None:  # read for risk at most once, and within the client's budget
            if self.client is not None and self.client.rescues.take():
                raise refusal
            return self._rescued(parse_quietly(raw, self.settings), refusal)
        msg = parse_message(raw, self.settings)
        msg_id = message_id(msg, self.settings)
        kind = msg.get("type")
        if kind == "reset":
            self.state = self.bot.state(None)
            return json.dumps({"type": "reset", "id": msg_id, "ok": True})
        if kind != "ask":
            raise ProtocolError("unknown_type", self.settings, msg_id)
        try:
            text = question_text(msg, self.settings, msg_id)
        except ProtocolError as refusal:
            if refusal.code != "text_too_long":
                raise
            return self._rescued(msg, refusal)
        context = client_context(msg, self.settings, msg_id)
        start = self.state if context is None else self.bot.state(context)
        frame = reply_frame(self.bot, self.frames, text, start, self.settings, self.log, "ws",
                            msg_id)
        self.state = frame.state
        return frame.text(msg_id)

    def _limit(self, raw: str | bytes) -> ProtocolError | None:
        """The refusal for a frame over a limit (this chat's rate, its client's rate across
        all its chats, the frame size), or None."""
        wait = 0.0 if self.window.allow() else self.window.retry_after()
        if not wait and self.client is not None:
            wait = self.client.messages.take()
        if wait:
            return ProtocolError("rate_limited", self.settings, retry_after=wait)
        if isinstance(raw, str) and too_large(raw, self.settings):
            return ProtocolError("message_too_large", self.settings)
        return None

    def _rescued(self, msg: dict | None, refusal: ProtocolError) -> str:
        """The reply to a refused message that carries risk, graded as any other (see
        rescue), or the refusal with the message's id when it has one."""
        frame = ReplyFrame(*rescue(self.bot, msg, refusal, self.log, "ws", self.state,
                                   self.settings))
        self.state = frame.state
        return frame.text(refusal.msg_id)
