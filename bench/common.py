"""What every benchmark needs: the Procfile server, process memory, percentiles, results.

Benchmarks start exactly what an operator deploys: the Procfile's `web:` command on a free
loopback port (tests/live.py, which the tests use too), with only the app path swapped for
the echo baseline. Figures go to
bench/out/<name>.json so `run_all.py` can write bench/RESULTS.md from one run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/live.py: the live server, shared with the tests
from live import BOT_APP, LiveServer, free_port, launch, procfile_command  # noqa: E402

OUT = ROOT / "bench" / "out"
DEV_CASES = ROOT / "tests" / "shared" / "eval" / "dev_cases.jsonl"  # the copy of ../shared
ECHO_APP = "bench.echo_app:create_app()"
# Load benchmarks send far more than a patient can type; the per-connection rate limit
# (20 messages / 10 s by default) is raised for them, and RESULTS.md says so.
UNLIMITED = {"RATE_LIMIT_MESSAGES": "1000000000", "RATE_LIMIT_SECONDS": "1",
             "CLIENT_CHATS": "1000000", "CLIENT_MESSAGES": "1000000000",
             "CLIENT_MESSAGE_RATE": "1000000000", "CLIENT_ASKS": "1000000000",
             "CLIENT_ASK_RATE": "1000000000"}


def questions() -> list[str]:
    """Every single-turn question of the shared dev cases: what patients really ask."""
    out = []
    for line in DEV_CASES.read_text().splitlines():
        if line.strip():
            out.extend(json.loads(line)["turns"])
    return out


def gunicorn_flag(name: str, default: str = "") -> str:
    """The value of a gunicorn flag in the Procfile (for reporting what was measured)."""
    argv = procfile_command(0)
    return argv[argv.index(name) + 1] if name in argv else default


def start_server(app: str = BOT_APP, env: dict | None = None, port: int | None = None,
                 health_path: str = "/healthz", timeout: float = 60.0) -> LiveServer:
    """Starts the Procfile command serving `app` and waits until `health_path` answers 200,
    polling every 5 ms so that `ready_after` measures the start-up, not the polling."""
    port = port or free_port()
    return launch(procfile_command(port, app), OUT, port, env, timeout, health_path, poll=0.005)


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


def run_count(argv: list[str] | None, doc: str, default: int, quick: int) -> int:
    """How many runs a timing benchmark makes: `--runs N` (default `default`), or `--quick`
    for `quick`; `doc` is the script's docstring, whose first line is its --help."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--runs", type=int, default=default)
    ap.add_argument("--quick", action="store_true", help=f"{quick} run(s)")
    args = ap.parse_args(argv)
    return quick if args.quick else args.runs
