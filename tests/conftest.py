"""Shared fixtures: the engine, the Flask app and a live server started from the Procfile.

The live server is the real deployment command (the Procfile's `web:` line run by
gunicorn on a free port), so the tests exercise exactly what an operator runs.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from simple_websocket import Client

from chatbot.config import Settings
from chatbot.core import load_bot

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DEV_CASES = SHARED / "eval" / "dev_cases.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command(port: int) -> list[str]:
    """The Procfile's web command with $PORT filled in, as a platform would run it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            cmd = line[len("web:"):].strip().replace("$PORT", str(port))
            return shlex.split(cmd)
    raise RuntimeError("Procfile has no web: line")


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


@dataclass
class Address:
    """A chat server on loopback: `url` is http://127.0.0.1:PORT, `ws_url` its chat endpoint,
    `origin` what its own pages send as Origin."""
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def origin(self) -> str:
        return self.url


@dataclass
class LiveServer(Address):
    """A running server process (gunicorn master in its own process group) and its output."""
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


# generous: on a 2-core machine busy with other work, booting two workers can take a while
START_TIMEOUT = 90.0


def start_server(tmp_dir: Path, env: dict | None = None, port: int | None = None,
                 timeout: float = START_TIMEOUT) -> LiveServer:
    """Starts the Procfile command and waits for /healthz to answer 200."""
    port = port or free_port()
    return launch(procfile_command(port), tmp_dir, port, env, timeout)


def launch(cmd: list[str], tmp_dir: Path, port: int, env: dict | None = None,
           timeout: float = START_TIMEOUT) -> LiveServer:
    """Runs a server command (the venv's scripts on PATH) and waits for /healthz to answer 200."""
    log_path = tmp_dir / f"server-{port}-{time.monotonic_ns()}.log"
    full_env = {**os.environ, "PORT": str(port), **(env or {})}
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer(port, proc, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not answer /healthz within {timeout} s:\n{server.log()}")


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
