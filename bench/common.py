"""What every benchmark needs: the Procfile server, process memory, percentiles, results.

Benchmarks start exactly what an operator deploys: the Procfile's `web:` command on a free
loopback port, with only the app path swapped for the echo baseline. Figures go to
bench/out/<name>.json so `run_all.py` can write bench/RESULTS.md from one run.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DEV_CASES = ROOT.parent / "shared" / "eval" / "dev_cases.jsonl"
BOT_APP = "chatbot.server:create_app()"
ECHO_APP = "bench.echo_app:create_app()"
# Load benchmarks send far more than a patient can type; the per-connection rate limit
# (20 messages / 10 s by default) is raised for them, and RESULTS.md says so.
UNLIMITED = {"RATE_LIMIT_MESSAGES": "1000000000", "RATE_LIMIT_SECONDS": "1"}


def questions() -> list[str]:
    """Every single-turn question of the shared dev cases: what patients really ask."""
    out = []
    for line in DEV_CASES.read_text().splitlines():
        if line.strip():
            out.extend(json.loads(line)["turns"])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command(port: int, app: str = BOT_APP) -> list[str]:
    """The Procfile's web command for `port`, serving `app` with the very same gunicorn flags."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            argv = shlex.split(line[len("web:"):].strip().replace("$PORT", str(port)))
            return [app if a == BOT_APP else a for a in argv]
    raise RuntimeError("Procfile has no web: line")


def gunicorn_flag(name: str, default: str = "") -> str:
    """The value of a gunicorn flag in the Procfile (for reporting what was measured)."""
    argv = procfile_command(0)
    return argv[argv.index(name) + 1] if name in argv else default


@dataclass
class Server:
    """A running Procfile server (gunicorn master in its own process group)."""
    port: int
    proc: subprocess.Popen
    log_path: Path
    started_at: float = 0.0
    ready_after: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def origin(self) -> str:
        return self.url

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(app: str = BOT_APP, env: dict | None = None, port: int | None = None,
                 health_path: str = "/healthz", timeout: float = 60.0) -> Server:
    """Starts the Procfile command and waits until `health_path` answers 200."""
    port = port or free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"server-{port}.log"
    full_env = {**os.environ, "PORT": str(port), **(env or {})}
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(procfile_command(port, app), cwd=ROOT, env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(port, proc, log_path, started_at=t0)
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}{health_path}", timeout=1) as r:
                if r.status == 200:
                    server.ready_after = time.perf_counter() - t0
                    return server
        except OSError:
            time.sleep(0.005)
    server.stop()
    raise RuntimeError(f"server did not answer {health_path} within {timeout} s")


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc (gunicorn master + workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pids: list[int]) -> float:
    """Sum of resident memory (VmRSS) of the processes, in MiB (counts shared pages twice)."""
    return sum(_status_kb(p, "VmRSS") for p in pids) / 1024


def pss_mb(pids: list[int]) -> float:
    """Sum of proportional set size, in MiB: shared pages split between the forked workers."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far (to show who used the 2 cores)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / tick


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summary_ms(latencies_s: list[float]) -> dict:
    """p50/p95/p99/max of latencies given in seconds, reported in milliseconds."""
    return {f"p{p}_ms": round(percentile(latencies_s, p) * 1000, 2) for p in (50, 95, 99)} | {
        "max_ms": round(max(latencies_s, default=0) * 1000, 2), "count": len(latencies_s)}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def machine() -> dict:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "os": _os_name()}


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


@dataclass
class Result:
    """One benchmark's figures, written to bench/out/<name>.json."""
    name: str
    command: str
    data: dict = field(default_factory=dict)

    def save(self) -> Path:
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"{self.name}.json"
        path.write_text(json.dumps({"name": self.name, "command": self.command,
                                    "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                                    "machine": machine(), "data": self.data}, indent=2))
        return path


def raise_fd_limit(want: int = 65536) -> int:
    """Opens as many sockets as the hard limit allows (1,000+ websockets need it)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
