"""`chatbot serve`: the Procfile's gunicorn setup, started from Python.

Why gevent workers: every open chat websocket occupies its handler for as long
as the patient keeps the widget open, mostly idle. With gthread that is one OS
thread per connection (1,000 open chats = 1,000 threads and their stacks,
capped by --threads); with gevent it is one greenlet (a few KB), so two workers
with 2,000 worker connections each hold thousands of idle sockets while the
engine's short CPU-bound replies run one at a time per process.
"""
from __future__ import annotations

import sys
from dataclasses import replace

from gunicorn.app.base import BaseApplication

from chatbot.config import Settings

# Keep in step with the Procfile's web: line (tests/test_server_run.py checks it).
GUNICORN_OPTIONS = {
    "worker_class": "gevent",
    "workers": 2,
    "worker_connections": 2000,
    "timeout": 30,
    "graceful_timeout": 10,
    # gunicorn >= 25.1 opens a control socket at one path per user ($XDG_RUNTIME_DIR or
    # ~/.gunicorn/gunicorn.ctl), so a second server on the machine takes over the first's.
    # Nothing here uses gunicornc; operators manage the process with signals.
    "control_socket_disable": True,
    # Hostile requests (issue 14). gunicorn buffers a request's whole header block before
    # the app sees it, up to limit_request_fields x limit_request_field_size bytes: with its
    # defaults (100 x 8190) one request of ~760 KB of headers cost a worker ~75-90 ms of CPU
    # and was served. 50 fields of 8190 bytes (a browser sends about 15-20, a CDN or proxy
    # adds a few; 8190 leaves room for a clinic's cookies) halve that ceiling (~400 KB,
    # ~25 ms); a longer request line gets 414, more or longer headers 431, before any app
    # code runs (tests/test_server_limits.py). Behind deploy/nginx.conf, nginx caps the
    # headers at 32 KB first.
    "limit_request_line": 4094,
    "limit_request_fields": 50,
    "limit_request_field_size": 8190,
}


class _Gunicorn(BaseApplication):
    """Gunicorn with options from a dict; each worker builds its own app (no preload)."""

    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from chatbot.server.app import deploy_app
        return deploy_app(self.settings)  # a broken corpus file: one line, and the server stops


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Runs the chat server until interrupted and tells the user where to open it.

    The articles are read first: a broken one is reported (one line, exit 1) before the
    address is printed, not after gunicorn has started. This is the development server:
    pages on localhost (any port: a dev server beside it) may chat (see origins.py)."""
    from chatbot.core.corpus import CorpusError, load_corpus
    try:
        load_corpus(settings.corpus_dir)
    except (CorpusError, OSError) as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return 1
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    if ":" in shown:
        shown = f"[{shown}]"
    print(f"Chat running at http://{shown}:{port}/  (Ctrl-C to stop)", flush=True)
    settings = replace(settings, development=True)
    _Gunicorn(settings, {**GUNICORN_OPTIONS, "bind": f"{host}:{port}"}).run()
    return 0
