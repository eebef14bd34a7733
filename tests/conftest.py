"""Shared fixtures: the engine, the Flask app and a live server started from the Procfile.

The live server is the real deployment command (the Procfile's `web:` line run by
gunicorn on a free port), so the tests exercise exactly what an operator runs.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from simple_websocket import Client

from chatbot.config import Settings
from chatbot.core import load_bot
from live import ROOT, START_TIMEOUT, LiveServer, free_port, launch, procfile_command

# A copy of the project's ../shared folder (the article, chat_eval.py and its dev cases), so a
# clone runs every test by itself; tests/test_shared_copies.py keeps it equal to the original.
SHARED = ROOT / "tests" / "shared"
DEV_CASES = SHARED / "eval" / "dev_cases.jsonl"


class ChatClient(Client):
    """simple-websocket's Client, keeping frames that arrive together with the handshake.

    Client.handshake stops at the 101 response; a frame sent right after it (our
    welcome) that lands in the same read stays in wsproto's buffer until more data
    arrives. Draining the buffer before the reader thread starts fixes that. A refused
    handshake (e.g. 403) also closes the socket, which Client leaves open.
    """

    def handshake(self):
        try:
            super().handshake()
        except Exception:
            self.sock.close()
            raise
        self._handle_events()


def start_server(tmp_dir: Path, env: dict | None = None, port: int | None = None,
                 timeout: float = START_TIMEOUT) -> LiveServer:
    """Starts the Procfile command and waits for /healthz to answer 200."""
    port = port or free_port()
    return launch(procfile_command(port), tmp_dir, port, env, timeout)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env({})


@pytest.fixture(scope="session")
def bot(settings):
    return load_bot(settings)


@pytest.fixture()
def app(settings):
    from chatbot.server import create_app
    return create_app(settings)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One live Procfile server shared by the session (default settings)."""
    live = start_server(tmp_path_factory.mktemp("server"))
    yield live
    live.stop()


@pytest.fixture()
def server_factory(tmp_path):
    """Starts extra servers with their own environment; stops them after the test."""
    started: list[LiveServer] = []

    def factory(env: dict | None = None, port: int | None = None) -> LiveServer:
        live = start_server(tmp_path, env=env, port=port)
        started.append(live)
        return live

    yield factory
    for live in started:
        live.stop()
