"""The chat's websocket connection: simple-websocket's Server with two limits it lacks.

simple-websocket reads each connection in a background greenlet (a thread outside gevent)
that appends every incoming message to a list for the handler's `receive()`, and its
`send()` waits for as long as the client takes to read. A client that sends without ever
reading stalls the handler in `send()` while the reader keeps filling the list, so memory
grows with whatever that one client sends. Two limits close that hole:

- at most `max_pending` messages wait for the handler; then the reader stops reading the
  socket until the handler takes one, and TCP makes the client's own sends wait;
- a frame the client has not taken within `send_timeout` seconds means it is not reading:
  the connection is dropped (no close frame, which could not reach it either).

flask-sock always builds the library's own Server class, so `websocket_route` here is
flask-sock's route wrapper around this one.
"""
from __future__ import annotations

import os
import select
import socket
import threading
import time
import weakref
from typing import Callable

from flask import Flask, Response, request
from simple_websocket import ConnectionClosed, Server
from wsproto.events import CloseConnection, Message, TextMessage
from wsproto.frame_protocol import CloseReason

# Enough for a client that sends a few questions before reading the answers; each message
# is at most the library's max_message_size, so this bounds a connection's backlog.
MAX_PENDING = 8


# How often each process looks for chats idle past their time (see IdleWatch).
IDLE_CHECK_SECONDS = 0.25


class SendTimedOut(ConnectionError):
    """The client did not take a frame within the send time limit; the connection is dropped."""


class ChatSocket(Server):
    """A server-side websocket whose backlog and blocked sends are bounded."""

    def __init__(self, environ: dict, send_timeout: float, max_pending: int = MAX_PENDING,
                 idle_timeout: float | None = None, **options):
        self.send_timeout = send_timeout
        self.max_pending = max_pending
        self.taken = threading.Event()  # set each time the handler takes a message (or closes)
        self.idle_timeout = idle_timeout
        self.waiting_since = time.monotonic()
        self.idle = False  # set by IdleWatch: nothing came for idle_timeout seconds
        super().__init__(environ, **options)  # starts the reader
        self.cooperative = type(self.sock).__module__.startswith("gevent")
        if idle_timeout:
            IdleWatch.shared().add(self)

    def receive(self, timeout: float | None = None):
        """The next message; None after `timeout` seconds, or once the chat has been idle for
        `idle_timeout`. Taking one lets a paused reader go on.

        The idle time is watched by one IdleWatch per process rather than a timer per call:
        arming and cancelling a timer for every message cost more than the rest of receiving it.
        """
        self.waiting_since = time.monotonic()
        while self.connected and not self.input_buffer and not self.idle:
            if not self.event.wait(timeout=timeout):
                return None
            self.event.clear()
        self.taken.set()
        if self.input_buffer:
            self.idle = False  # a message that came as the time ran out: not idle after all
            return self.input_buffer.pop(0)
        if self.idle:
            return None
        raise ConnectionClosed(self.close_reason, self.close_message)

    def expire(self) -> None:
        """Called by IdleWatch: wakes the handler's receive(), which then returns None."""
        self.idle = True
        self.event.set()

    def send(self, data: str | bytes) -> None:
        """Sends one message, all of it, or raises SendTimedOut and drops the connection."""
        if not self.connected:
            raise ConnectionClosed(self.close_reason, self.close_message)
        event = Message(data=data) if isinstance(data, bytes) else TextMessage(data=str(data))
        self._send_frame(self.ws.send(event))

    def close(self, reason: int | None = None, message: str | None = None) -> None:
        """Sends a close frame within the send time limit, and stops the reader."""
        if not self.connected:
            raise ConnectionClosed(self.close_reason, self.close_message)
        frame = self.ws.send(CloseConnection(reason or CloseReason.NORMAL_CLOSURE, message))
        try:
            self._send_frame(frame)
        except OSError:  # gone, or not reading (then already dropped): nothing more to say
            pass
        self.connected = False
        self.taken.set()

    def drop(self) -> None:
        """Ends the connection without a close frame; the reader sees EOF and closes the socket."""
        self.connected = False
        self.taken.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already gone
            pass

    def _send_frame(self, frame: bytes) -> None:
        try:
            sendall_within(self.sock, frame, self.send_timeout, self.cooperative)
        except SendTimedOut:
            self.drop()
            raise

    def _handle_events(self) -> bool:
        """Runs in the reader after every read: waits here while the handler is behind."""
        keep_going = super()._handle_events()
        while keep_going and self.connected and len(self.input_buffer) >= self.max_pending:
            self.taken.wait()
            self.taken.clear()
            keep_going = self.connected
        return keep_going


class IdleWatch:
    """Wakes every chat in this process that has waited longer than its idle_timeout.

    One background thread (a greenlet under gevent workers) looks at the open chats
    every IDLE_CHECK_SECONDS, so a chat is closed at most that much after its time.
    """

    _shared: "IdleWatch | None" = None
    _lock = threading.Lock()

    def __init__(self):
        self.pid = os.getpid()  # a forked worker starts its own (see shared)
        self.sockets: "weakref.WeakSet[ChatSocket]" = weakref.WeakSet()
        thread = threading.Thread(target=self._run, name="idle-watch", daemon=True)
        thread.start()

    @classmethod
    def shared(cls) -> "IdleWatch":
        with cls._lock:
            if cls._shared is None or cls._shared.pid != os.getpid():
                cls._shared = cls()
            return cls._shared

    def add(self, ws: ChatSocket) -> None:
        with self._lock:
            self.sockets.add(ws)

    def _run(self) -> None:
        while True:
            time.sleep(IDLE_CHECK_SECONDS)
            now = time.monotonic()
            with self._lock:
                open_now = list(self.sockets)
            for ws in open_now:
                if not ws.connected:
                    with self._lock:
                        self.sockets.discard(ws)
                elif not ws.idle and now - ws.waiting_since >= ws.idle_timeout \
                        and not ws.input_buffer:
                    ws.expire()


def sendall_within(sock, data: bytes, seconds: float, cooperative: bool) -> None:
    """`sock.sendall(data)`, raising SendTimedOut if the peer has not taken it within `seconds`.

    A reply nearly always fits in the socket's buffer, so a send that never waits comes
    first and a reply costs one system call and no timer; only a remainder waits, timed.
    Under gevent workers (`cooperative`: the socket is gevent's) a gevent Timeout ends that
    wait. Under a threaded server (the werkzeug dev server) the socket is shared with the
    reader thread, whose blocking reads rule out a socket timeout, so the wait is a poll.
    """
    view = memoryview(data)
    if cooperative:
        try:
            sent = sock.send(view, 0, 0.0)  # gevent's own argument: timeout 0, never wait
        except BlockingIOError:
            sent = 0
        if sent < len(view):
            from gevent import Timeout
            with Timeout(seconds, SendTimedOut):
                sock.sendall(view[sent:])
        return
    deadline = time.monotonic() + seconds
    while view:
        try:
            view = view[sock.send(view, socket.MSG_DONTWAIT):]
            continue
        except BlockingIOError:
            pass
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise SendTimedOut()


class _SocketResponse(Response):
    """What the view returns after a websocket: the socket already carried everything, so the
    WSGI server must write nothing (gunicorn's signal for that is StopIteration)."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def __call__(self, environ, start_response):
        if self.mode == "gunicorn":
            raise StopIteration()
        if self.mode == "werkzeug":
            return super().__call__(environ, start_response)
        return []


# What the websocket handshake needs of the upgrade request. simple-websocket keeps the
# environ it is given for the life of the chat and offers every HTTP_ header to wsproto:
# passing only these keeps no cookie or oversized header in memory for hours, and leaves out
# Sec-WebSocket-Extensions, so permessage-deflate is never agreed (a 4 KB compressed frame
# could inflate to megabytes before any size check).
_HANDSHAKE_HEADERS = ("HTTP_HOST", "HTTP_UPGRADE", "HTTP_CONNECTION", "HTTP_SEC_WEBSOCKET_KEY",
                      "HTTP_SEC_WEBSOCKET_VERSION", "HTTP_SEC_WEBSOCKET_PROTOCOL")
_SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket", "eventlet.input", "wsgi.input",
                "SERVER_SOFTWARE")


def handshake_environ(environ: dict) -> dict:
    """The part of a WSGI environ the websocket library needs (see _HANDSHAKE_HEADERS)."""
    return {k: environ[k] for k in _HANDSHAKE_HEADERS + _SOCKET_KEYS if k in environ}


def websocket_route(app: Flask, path: str, handler: Callable[[ChatSocket], None],
                    **options) -> None:
    """Like flask-sock's `@sock.route(path)`: `handler(ws)` runs for the life of a connection;
    `options` go to ChatSocket (send_timeout, ping_interval, max_message_size...)."""

    def view() -> Response:
        ws = ChatSocket(handshake_environ(request.environ), **options)
        try:
            handler(ws)
        except ConnectionClosed:
            pass
        finally:
            try:
                ws.close()
            except ConnectionClosed:  # the client closed first, or the connection was dropped
                pass
        return _SocketResponse(ws.mode)

    app.add_url_rule(path, handler.__name__, view, websocket=True)
