"""The Flask application: thin routes over one Bot per process.

`create_app()` is what gunicorn loads (see the Procfile); each worker process
builds its own app and loads the engine once. No state is shared between
connections or processes, so any number of processes can serve behind a load
balancer.
"""
from __future__ import annotations

import json
import time
from html import escape
from urllib.parse import urlsplit
from dataclasses import replace
from pathlib import Path

from flask import Flask, Response, current_app, g, redirect, request
from werkzeug.exceptions import HTTPException, NotFound

from chatbot.config import ConfigError, Settings
from chatbot.core.corpus import CorpusError
from chatbot.server import article, boot, chat, headers, origins
from chatbot.server.assets import Asset, load_dir
from chatbot.server.body import read_body
from chatbot.server.chat import Conversation, ProtocolError, ReplyFrame, ReplyFrames
from chatbot.server.clients import CHATS_RETRY_AFTER, Clients, client_address
from chatbot.server.events import EventLog
from chatbot.server.origins import LOCAL_HOSTS
from chatbot.server.websocket import SendTimedOut, websocket_route

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
# Frames above max_frame_bytes get a `message_too_large` error and the chat goes on;
# only frames above this hard cap make the websocket library close the connection (1009).
HARD_FRAME_CAP = 64 * 1024
# REST bodies carry the question and the opaque context from the last reply.
MAX_BODY_BYTES = 32 * 1024


# The placeholder in web/embed.html, replaced with this server's address when it is served.
BOT_HOST = "https://BOT-HOST"
# Request hosts /embed.html is filled in for (without PUBLIC_URL), each page kept once.
MAX_EMBED_VARIANTS = 32


def create_app(settings: Settings | None = None, bot=None) -> Flask:
    """Builds the chat server; `bot` is for tests that need an engine that fails.

    Without `settings` (the Procfile's `create_app()`) they come from the environment, and a
    bad setting or corpus file ends the worker with one line for the operator (deploy_app).
    """
    if settings is None:
        return deploy_app()
    if bot is None:
        from chatbot.core import load_bot
        bot = load_bot(settings).prepare()
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    log = EventLog(settings.log_questions)
    documents = getattr(bot, "documents", [])
    pages = article.render_all(documents, bot.welcome().get("disclaimer", ""))
    app.extensions["chatbot"] = {
        "settings": settings, "bot": bot, "log": log,
        "frames": ReplyFrames(settings.reply_cache_size, bot),
        "clients": Clients(settings),
        "own_origin": origins.own_origin(settings.public_url),
        "web": load_dir(WEB_DIR),  # read and compressed once: see assets.py
        "articles": {slug: Asset.build(html.encode("utf-8"), "article.html")
                     for slug, html in pages.items()},
        "embeds": {},  # /embed.html filled in, by the address it names
    }
    app.before_request(_admit)
    app.teardown_request(_release)
    app.after_request(headers.secure)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

    app.get("/healthz")(healthz)
    app.route("/api/ask", methods=["POST", "OPTIONS"])(ask)
    app.get("/")(index)
    app.get("/article")(first_article)
    app.get("/article/<slug>")(article_page)
    app.get("/embed.html")(embed_page)
    app.get("/<filename>")(web_file)  # top-level files only: no "/" in a name
    websocket_route(app, "/ws", chat_socket, send_timeout=settings.send_timeout,
                    idle_timeout=settings.idle_timeout,
                    ping_interval=settings.ping_interval or None,
                    max_message_size=max(HARD_FRAME_CAP, settings.max_frame_bytes))
    if boot.is_first_worker():  # once per server, not once per worker
        log.emit("start", allowed_origins=list(settings.allowed_origins),
                 public_url=settings.public_url, passages=bot.passage_count,
                 articles=[f"/article/{slug}" for slug in pages])
    return app


def deploy_app(settings: Settings | None = None) -> Flask:
    """The app as a gunicorn worker builds it: settings from the environment, and a problem
    the operator must fix (a bad setting, a broken corpus file) as one line on stderr and
    gunicorn's boot-error exit, which stops the server instead of restarting workers."""
    try:
        return create_app(settings or Settings.from_env())
    except (ConfigError, CorpusError, OSError) as exc:
        boot.abort(str(exc))


def _ext() -> dict:
    return current_app.extensions["chatbot"]


def _error(code: str, msg_id=None, settings: Settings | None = None,
           retry_after: float | None = None) -> Response:
    return _refusal(ProtocolError(code, settings or _ext()["settings"], msg_id, retry_after))


def _refusal(err: ProtocolError) -> Response:
    """An error as an HTTP response; a 429 says when to try again (Retry-After)."""
    response = Response(json.dumps(err.frame()), status=err.status, mimetype="application/json")
    if err.retry_after is not None:
        response.headers["Retry-After"] = str(err.retry_after)
    return response


def _admit() -> Response | None:
    """Before any websocket upgrade or question: refuses other sites' pages (403), and a
    client with too many chats or requests open already (429; see clients.py)."""
    if request.path not in {"/ws", "/api/ask"}:
        return None
    ext = _ext()
    settings = ext["settings"]
    origin = origins.check(request.headers.get("Origin"), request.host,
                           settings.allowed_origins, ext["own_origin"], settings.development,
                           _local_port())
    if origin is None:
        ext["log"].emit("refused_origin", origin=request.headers.get("Origin"),
                        path=request.path)
        return _error("forbidden_origin")
    g.cors_origin = origin
    if request.method == "OPTIONS":
        return None
    key = client_address(request.environ, settings.trusted_proxies)
    client = ext["clients"].open(key)
    if client is None:
        ext["log"].emit("refused_client", code="too_many_chats", path=request.path)
        return _error("too_many_chats", retry_after=CHATS_RETRY_AFTER)
    g.client_key, g.client = key, client
    return None


def _local_port() -> int | None:
    """The port this request reached the server on: the socket's own under gunicorn (its
    SERVER_PORT comes from the Host header), else the WSGI server's SERVER_PORT."""
    sock = request.environ.get("gunicorn.socket")
    try:
        if sock is not None:
            return int(sock.getsockname()[1])
        return int(request.environ.get("SERVER_PORT", ""))
    except (OSError, ValueError, TypeError, IndexError):
        return None


def _release(_exc: BaseException | None) -> None:
    """The end of a chat or REST request admitted by _admit: its slot is free again."""
    key = g.pop("client_key", None)
    if key is not None:
        _ext()["clients"].close(key)


def healthz() -> dict:
    """For load balancers and the test fixtures: the engine is loaded and how big it is."""
    return {"status": "ok", "passages": _ext()["bot"].passage_count}


def ask() -> Response:
    """REST fallback: one question in, the reply object plus the new `context` out."""
    if request.method == "OPTIONS":  # CORS preflight from an allowed origin
        return Response(status=204)
    ext = _ext()
    settings, log, client, bot = ext["settings"], ext["log"], g.client, ext["bot"]
    try:
        raw = read_body(request.environ, MAX_BODY_BYTES, settings.body_timeout,
                        _rest_settings(settings))
        msg = chat.parse_message(raw, _rest_settings(settings))
        msg_id = chat.message_id(msg, settings)
        state = bot.state(chat.client_context(msg, settings, msg_id))
        wait = client.asks.take()
        try:
            if wait:
                raise ProtocolError("rate_limited", settings, msg_id, retry_after=wait)
            text = chat.question_text(msg, settings, msg_id)
        except ProtocolError as refusal:  # safety before the length and rate limits
            if refusal.code not in {"text_too_long", "rate_limited"} or client.rescues.take():
                raise
            frame = ReplyFrame(*chat.rescue(bot, msg, refusal, log, "rest", state, settings))
        else:
            frame = chat.reply_frame(bot, ext["frames"], text, state, settings, log, "rest", msg_id)
    except ProtocolError as err:
        log.emit("error", code=err.code, channel="rest")
        return _refusal(ProtocolError(err.code, _rest_settings(settings), err.msg_id,
                                      err.retry_after))
    return Response(frame.rest_body(msg_id), mimetype="application/json")


def _rest_settings(settings: Settings) -> Settings:
    """A REST body also carries the context, so it may be larger than one websocket frame."""
    return replace(settings, max_frame_bytes=MAX_BODY_BYTES)


def chat_socket(ws) -> None:
    """One patient's chat: welcome, then one answer frame per incoming frame."""
    ext = _ext()
    settings, log = ext["settings"], ext["log"]
    conversation = Conversation(ext["bot"], settings, log, ext["frames"], g.client)
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
    """Files at the top of web/ (the widget, its demo pages); nothing outside it, no dotfiles.
    Gzip-compressed when the client accepts it, with an ETag (304 when unchanged)."""
    asset = _ext()["web"].get(filename)
    if asset is None:
        raise NotFound()
    return asset.response()


def first_article() -> Response:
    """/article: the first article (by file name)."""
    pages = _ext()["articles"]
    if not pages:
        raise NotFound("There is no article.")
    return redirect(f"/article/{next(iter(pages))}")


def article_page(slug: str) -> Response:
    """An article as a page; replies' `source.url` link to its sections (#section-slug)."""
    asset = _ext()["articles"].get(slug)
    if asset is None:
        names = ", ".join(f"/article/{s}" for s in _ext()["articles"]) or "none"
        raise NotFound(f"There is no article {slug!r}. Articles: {names}.")
    response = asset.response()
    response.headers["Content-Security-Policy"] = article.CSP
    return response


def embed_page() -> Response:
    """web/embed.html with BOT-HOST replaced by this server's address, so the example works
    as it is: PUBLIC_URL when set, else the request's own host when that is a host the server
    trusts (localhost, or an origin in ALLOWED_ORIGINS), else the page's own server ("")."""
    ext = _ext()
    base = ext["settings"].public_url or _trusted_request_base(ext["settings"])
    embeds = ext["embeds"]
    asset = embeds.get(base)
    if asset is None:
        html = ext["web"]["embed.html"].body.decode("utf-8")
        asset = Asset.build(html.replace(BOT_HOST, escape(base)).encode("utf-8"), "embed.html")
        if len(embeds) < MAX_EMBED_VARIANTS:
            embeds[base] = asset
    response = asset.response()
    if not ext["settings"].public_url:
        response.vary.add("Host")
    return response


def _trusted_request_base(settings: Settings) -> str:
    """scheme://host of this request when the host is one the server may name, else ""
    (a relative URL: the same server as the page). An unchecked Host header would let
    anyone put their own script address in a cached copy of the page."""
    origin = f"{request.scheme}://{request.host}".lower()
    try:
        hostname = urlsplit(origin).hostname
    except ValueError:  # a malformed Host header
        return ""
    if hostname in LOCAL_HOSTS or origin in settings.allowed_origins:
        return origin + request.script_root
    return ""


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
