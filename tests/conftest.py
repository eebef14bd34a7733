"""Shared fixtures: the engine, the Flask app and a live server started from the Procfile.

The live server is the real deployment command (the Procfile's `web:` line run by
gunicorn on a free port), so the tests exercise exactly what an operator runs.
"""
from __future__ import annotations

import gc
import io
import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from simple_websocket import Client

from chatbot.config import Settings
from chatbot.core import load_bot
from live import QUICK_WAIT, ROOT, START_TIMEOUT, LiveServer, free_port, launch, procfile_command

# A copy of the project's ../shared folder (the article, chat_eval.py and its dev cases), so a
# clone runs every test by itself; tests/test_shared_copies.py keeps it equal to the original.
SHARED = ROOT / "tests" / "shared"
DEV_CASES = SHARED / "eval" / "dev_cases.jsonl"


# The modules that take longest, longest first. `make test` runs two workers that take whole
# modules (--dist loadfile) in collection order (--no-loadscope-reorder): started last, the
# browser tests alone kept one worker busy for a minute after the other was done; started
# first, the short modules fill in around them (longest-processing-time-first scheduling).
LONGEST_FIRST = ("test_widget.py", "test_cli.py", "test_faults.py", "test_evaluation.py",
                 "test_safety.py", "test_server.py", "test_server_run.py", "test_properties.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Puts the longest modules first, each module's tests in their own order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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


class FakeClock:
    """A monotonic clock a test moves by hand (rate limits, buckets)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def start_server(tmp_dir: Path, env: dict | None = None, port: int | None = None,
                 timeout: float = START_TIMEOUT) -> LiveServer:
    """Starts the Procfile command and waits for /healthz to answer 200. With one worker
    (WEB_CONCURRENCY, which the Procfile reads; its default is two) unless `env` asks for
    more: a second worker would boot the engine again for tests that never reach it, and a
    test about more than one (test_server_clients) says so."""
    port = port or free_port()
    env = {"WEB_CONCURRENCY": "1", **(env or {})}
    return launch(procfile_command(port, env=env), tmp_dir, port, env, timeout)


def free_ports(n: int) -> list[int]:
    """n distinct free ports (each socket stays bound until all are picked)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def start_servers(tmp_dir: Path, envs: list[dict | None]) -> list[LiveServer]:
    """Starts one server per environment at the same time (each its own process group, port
    and log) and waits until every one answers /healthz; if one fails, the others are
    stopped and its error raised. One boot alone leaves the cores idle part of the time
    (the master, then its worker, then the health check): together they finish sooner."""
    ports = free_ports(len(envs))
    with ThreadPoolExecutor(max(1, len(envs))) as pool:
        futures = [pool.submit(start_server, tmp_dir, env, port) for env, port in zip(envs, ports)]
    failed = [f.exception() for f in futures if f.exception() is not None]
    started = [f.result() for f in futures if f.exception() is None]
    if failed:
        for live in started:
            retire(live)
        raise failed[0]
    return started


def named_servers(tmp_dir: Path, envs: dict[str, dict | None]):
    """Servers started together, one per named environment, for a module fixture to
    `yield from`: it yields them by name and retires them when the module is done."""
    lives = start_servers(tmp_dir, list(envs.values()))
    yield dict(zip(envs, lives))
    for live in lives:
        retire(live)


# Servers stopped (SIGINT, gunicorn's quick shutdown, as LiveServer.stop) but not waited for:
# their workers take about a second to exit, and a test need not wait for that. They are
# waited for (and killed if still there) when the session ends.
_RETIRED: list[LiveServer] = []


def retire(live: LiveServer) -> None:
    """LiveServer.stop() without the wait: SIGINT to the whole process group now."""
    if live.proc.poll() is None:
        try:
            os.killpg(live.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    _RETIRED.append(live)


@pytest.fixture(scope="session", autouse=True)
def _reap_retired_servers():
    yield
    for live in _RETIRED:
        try:
            live.proc.wait(timeout=QUICK_WAIT)
        except subprocess.TimeoutExpired:
            live.stop()  # SIGINT again, then SIGKILL to the group
    _RETIRED.clear()


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


@pytest.fixture()
def cli(monkeypatch, capsys):
    """Runs `ask` or `chatbot` in this process, as click's CliRunner and llm's tests do: the
    same entry point the installed script calls, with its arguments, environment and
    standard input, giving back what a subprocess would (returncode, stdout, stderr) without
    starting Python again for each question. Tests of what only a process shows (pipes that
    close, a terminal, signals, the installed scripts themselves) run real subprocesses."""
    from chatbot.cli import ask_main, main

    def invoke(command: str, *args: str, env: dict | None = None, stdin: str | bytes = b""):
        entry = {"ask": ask_main, "chatbot": main}[command]
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            raw = stdin.encode() if isinstance(stdin, str) else stdin
            patch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
            capsys.readouterr()
            try:
                code = entry(list(args))
            except SystemExit as exc:  # argparse's --help
                code = exc.code or 0
            finally:
                gc.enable()  # `ask` turns the collector off for its short life (cli._ask)
            out = capsys.readouterr()
        return subprocess.CompletedProcess([command, *args], code, out.out, out.err)

    return invoke


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One live Procfile server shared by the session (default settings)."""
    live = start_server(tmp_path_factory.mktemp("server"))
    yield live
    retire(live)


@pytest.fixture()
def server_factory(tmp_path):
    """Starts extra servers with their own environment; stops them after the test.

    `server_factory.many([env, ...])` starts several at the same time."""
    started: list[LiveServer] = []

    def factory(env: dict | None = None, port: int | None = None) -> LiveServer:
        live = start_server(tmp_path, env=env, port=port)
        started.append(live)
        return live

    def many(envs: list[dict | None]) -> list[LiveServer]:
        lives = start_servers(tmp_path, envs)
        started.extend(lives)
        return lives

    factory.many = many
    yield factory
    for live in started:
        retire(live)
