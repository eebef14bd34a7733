"""The Flask application: thin routes over one Bot per process.

`create_app()` is what gunicorn loads (see the Procfile); each worker process
builds its own app and loads the engine once. No state is shared between
connections or processes, so any number of processes can serve behind a load
balancer.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from flask import Flask, Response, current_app, g, request, send_from_directory
from werkzeug.exceptions import HTTPException, NotFound

from chatbot.config import Settings
from chatbot.server import chat, headers
from chatbot.server.chat import Conversation, ProtocolError, ReplyFrames
from chatbot.server.events import EventLog
from chatbot.server.origins import is_allowed
from chatbot.server.websocket import SendTimedOut, websocket_route

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
# Frames above max_frame_bytes get a `message_too_large` error and the chat goes on;
# only frames above this hard cap make the websocket library close the connection (1009).
HARD_FRAME_CAP = 64 * 1024
# REST bodies carry the question and the opaque context from the last reply.
MAX_BODY_BYTES = 16 * 1024


def create_app(settings: Settings | None = None, bot=None) -> Flask:
    """Builds the chat server; `bot` is for tests that need an engine that fails."""
    settings = settings or Settings.from_env()
    if bot is None:
        from chatbot.core import load_bot
        bot = load_bot(settings).prepare()
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.extensions["chatbot"] = {"settings": settings, "bot": bot,
                                 "log": EventLog(settings.log_questions),
                                 "frames": ReplyFrames(settings.reply_cache_size)}
    app.before_request(_check_origin)
    app.after_request(headers.secure)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

    app.get("/healthz")(healthz)
    app.route("/api/ask", methods=["POST", "OPTIONS"])(ask)
    app.get("/")(index)
    app.get("/<filename>")(web_file)  # top-level files only: no "/" in a name
    websocket_route(app, "/ws", chat_socket, send_timeout=settings.send_timeout,
                    idle_timeout=settings.idle_timeout,
                    ping_interval=settings.ping_interval or None,
                    max_message_size=max(HARD_FRAME_CAP, settings.max_frame_bytes))
    return app


def _ext() -> dict:
    return current_app.extensions["chatbot"]


def _error(code: str, msg_id=None, settings: Settings | None = None) -> Response:
    err = ProtocolError(code, settings or _ext()["settings"], msg_id)
    return Response(json.dumps(err.frame()), status=err.status, mimetype="application/json")


def _check_origin() -> Response | None:
    """Refuses other sites' pages before any websocket upgrade or question (403)."""
    if request.path not in {"/ws", "/api/ask"}:
        return None
    origin = request.headers.get("Origin")
    if is_allowed(origin, request.host, _ext()["settings"].allowed_origins):
        g.cors_origin = origin
        return None
    _ext()["log"].emit("refused_origin", origin=origin, path=request.path)
    return _error("forbidden_origin")


def healthz() -> dict:
    """For load balancers and the test fixtures: the engine is loaded and how big it is."""
    return {"status": "ok", "passages": _ext()["bot"].passage_count}


def ask() -> Response:
    """REST fallback: one question in, the reply object plus the new `context` out."""
    if request.method == "OPTIONS":  # CORS preflight from an allowed origin
        return Response(status=204)
    ext = _ext()
    settings, log = ext["settings"], ext["log"]
    raw = request.get_data().decode("utf-8", "replace")
    try:
        msg = chat.parse_message(raw, _rest_settings(settings))
        msg_id = chat.message_id(msg, settings)
        context = chat.client_context(msg, settings, msg_id) or {}
        try:
            text = chat.question_text(msg, settings, msg_id)
        except ProtocolError as refusal:  # safety before the length limit
            if refusal.code != "text_too_long":
                raise
            reply, new_state = chat.rescue(ext["bot"], raw, refusal, log, "rest"), context
        else:
            reply, new_state = chat.answer(ext["bot"], text, context, settings, log, "rest", msg_id)
    except ProtocolError as err:
        log.emit("error", code=err.code, channel="rest")
        return _error(err.code, err.msg_id, _rest_settings(settings))
    body = {**{k: v for k, v in reply.items() if k != "id"}, "context": new_state}
    if msg_id is not None:
        body["id"] = msg_id
    return Response(json.dumps(body), mimetype="application/json")


def _rest_settings(settings: Settings) -> Settings:
    """A REST body also carries the context, so it may be larger than one websocket frame."""
    return replace(settings, max_frame_bytes=MAX_BODY_BYTES)


def chat_socket(ws) -> None:
    """One patient's chat: welcome, then one answer frame per incoming frame."""
    ext = _ext()
    settings, log = ext["settings"], ext["log"]
    conversation = Conversation(ext["bot"], settings, log, ext["frames"])
    opened = time.monotonic()
    log.emit("connect")
    reason = "client_closed"
    try:
        ws.send(json.dumps(conversation.welcome()))
        while True:
            raw = ws.receive()
            if raw is None:
                reason = "idle_timeout"
                ws.close(reason=1000, message="idle timeout")
                break
            ws.send(conversation.handle(raw))
    except SendTimedOut:  # the client stopped reading its replies: dropped (docs/protocol.md)
        reason = "send_timeout"
    except OSError:  # the client vanished mid-send (reset, broken pipe): nothing to answer
        reason = "connection_lost"
    finally:
        log.emit("disconnect", reason=reason, messages=conversation.messages,
                 errors=dict(conversation.errors),
                 duration_s=round(time.monotonic() - opened, 1))


def index() -> Response:
    """The demo clinic page with the widget."""
    return web_file("index.html")


def web_file(filename: str) -> Response:
    """Files at the top of web/ (the widget, its demo pages); nothing outside it, no dotfiles."""
    if filename.startswith("."):
        raise NotFound()
    return send_from_directory(WEB_DIR, filename, max_age=300)


def _http_error(exc: HTTPException) -> Response:
    """Routing errors as JSON in the protocol's error shape."""
    code = {404: "not_found", 405: "method_not_allowed", 413: "message_too_large"}.get(
        exc.code or 500, "bad_request")
    if code == "message_too_large":
        return _error(code, settings=_rest_settings(_ext()["settings"]))
    body = {"type": "error", "id": None, "code": code, "message": exc.description}
    return Response(json.dumps(body), status=exc.code or 500, mimetype="application/json")


def _unexpected_error(exc: Exception) -> Response:
    """Anything else: logged with its frames, answered without them."""
    _ext()["log"].failure("internal_error", exc, path=request.path)
    return _error("internal_error")
