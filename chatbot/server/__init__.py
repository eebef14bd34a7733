"""The chat server: websocket chat, REST fallback, the widget's files, health check.

`create_app` is the app factory gunicorn loads (Procfile); `serve` runs the same
gunicorn setup for `chatbot serve`. The protocol is in docs/protocol.md.
"""
from chatbot.server.app import create_app
from chatbot.server.run import serve

__all__ = ["create_app", "serve"]
