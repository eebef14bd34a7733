"""A live server on loopback: the Procfile's command started as an operator would, for the
tests (through conftest.py's fixtures) and the benchmarks (through bench/common.py).

One module for both, so the tests and the figures in bench/RESULTS.md always measure the
same deployment command, started and stopped the same way.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOT_APP = "chatbot.server:create_app()"
# generous: on a 2-core machine busy with other work, booting two workers can take a while
START_TIMEOUT = 90.0
GRACEFUL_WAIT = 20.0  # SIGTERM: gunicorn's graceful_timeout (10 s) and some slack
QUICK_WAIT = 5.0  # SIGINT: workers exit at once; this only bounds a hung process
SHELL_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")  # ${NAME:-default} or $NAME


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command(port: int, app: str = BOT_APP, env: dict | None = None) -> list[str]:
    """The Procfile's web command as a platform's shell would run it: $PORT filled in, and
    ${NAME:-default} from `env` (over os.environ) or its default when unset or empty
    (WEB_CONCURRENCY, the worker count). `app` swaps only the application (the benchmarks'
    echo baseline), never a gunicorn flag."""
    values = {**os.environ, **(env or {}), "PORT": str(port)}

    def expand(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        return values.get(name) or (match.group(2) or "")

    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            argv = shlex.split(SHELL_VARIABLE.sub(expand, line[len("web:"):].strip()))
            return [app if a == BOT_APP else a for a in argv]
    raise RuntimeError("Procfile has no web: line")


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
    ready_after: float = 0.0  # seconds from start to the first healthy answer

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self) -> list[int]:
        """The master and every worker."""
        return process_tree(self.proc.pid)

    def stop(self, graceful: bool = False) -> None:
        """Stops the master and its workers (the whole process group).

        By default with SIGINT, gunicorn's quick shutdown: the workers exit at once and drop
        their connections. SIGTERM's graceful stop waits up to graceful_timeout (10 s) for
        every open websocket to end, and a test server nearly always has one left, so the
        teardowns took about 80 s of `make test`. `graceful=True` sends SIGTERM, for the tests
        of a graceful shutdown. Anything still running after the wait is killed.
        """
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM if graceful else signal.SIGINT)
            try:
                self.proc.wait(timeout=GRACEFUL_WAIT if graceful else QUICK_WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)

    def __enter__(self) -> "LiveServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def launch(cmd: list[str], log_dir: Path, port: int, env: dict | None = None,
           timeout: float = START_TIMEOUT, health_path: str = "/healthz",
           poll: float = 0.2) -> LiveServer:
    """Runs a server command (the venv's scripts on PATH) and waits for `health_path` to
    answer 200, checking every `poll` seconds."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"server-{port}-{time.monotonic_ns()}.log"
    full_env = {**os.environ, "PORT": str(port), **(env or {})}
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer(port, proc, log_path)
    while time.perf_counter() < started + timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}{health_path}", timeout=5) as r:
                if r.status == 200:
                    server.ready_after = time.perf_counter() - started
                    return server
        except OSError:
            time.sleep(poll)
    server.stop()
    raise RuntimeError(f"server did not answer {health_path} within {timeout} s:\n"
                       f"{server.log()}")


def parent_pids() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # it exited while we looked
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (gunicorn master + workers)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parent_pids().items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out
