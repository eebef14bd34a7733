"""The baseline: a bare flask-sock echo endpoint, run with the Procfile's gunicorn flags.

Whatever this reaches is the limit of the stack (gunicorn + gevent + flask-sock) on this
machine; the chatbot's figures are quoted as a ratio of it. It keeps the same websocket ping
interval as the chatbot and answers /healthz so the same start-up wait works for both.
"""
from __future__ import annotations

import os

from flask import Flask
from flask_sock import Sock


def create_app() -> Flask:
    """Echoes every text frame back unchanged on /ws."""
    app = Flask(__name__)
    app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": int(os.environ.get("PING_INTERVAL", "25"))}
    sock = Sock(app)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @sock.route("/ws")
    def echo(ws):
        while True:
            ws.send(ws.receive())

    return app
