"""Connection capacity: 1,000 idle websockets (then 3,000) held open while 50 others chat.

The idle clients are patients with the widget open: connected, welcomed, silent, answering
the server's pings. The 50 chatters each ask a question about every 0.5 s (far more often
than a person types), so their latency shows what an open crowd costs, not queueing under
saturation (bench/latency.py measures that). Reports the active clients' p99, errors,
dropped idle connections, and the server's memory (RSS and PSS of master + workers) per
1,000 connections. The server's limit is --workers x --worker-connections in the Procfile.

usage: python bench/capacity.py [--idle 1000,3000] [--seconds 20] [--quick]
"""
from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from common import (UNLIMITED, Result, gunicorn_flag, pss_mb, questions, raise_fd_limit,
                    rss_mb, start_server, summary_ms)
from wsclient import Plan, run_load


def established(port: int) -> int:
    """Server-side TCP connections on `port` in state ESTABLISHED (from /proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "01":
                count += 1
    return count


def measure(idle: int, chatters: int, seconds: float, pace: float) -> dict:
    """One fresh server, `idle` silent connections and `chatters` paced ones."""
    with start_server(env=UNLIMITED) as srv:
        time.sleep(0.5)
        base_rss, base_pss = rss_mb(srv.pids()), pss_mb(srv.pids())
        ramp = 2.0 + idle / 300
        plan = Plan(srv.ws_url, srv.origin, questions(), chatters=chatters, duration=seconds,
                    start_at=time.time() + ramp, idlers=idle, pace=pace)
        peak = {"rss": base_rss, "pss": base_pss, "open": 0}
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                if time.time() < plan.start_at:
                    continue
                peak["open"] = max(peak["open"], established(srv.port))
                peak["rss"] = max(peak["rss"], rss_mb(srv.pids()))
                peak["pss"] = max(peak["pss"], pss_mb(srv.pids()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rep = run_load(plan, processes=2)
        done.set()
        sampler.join()
        per_k = 1000 / max(peak["open"], 1)
        return {"idle": idle, "chatters": chatters, "pace_s": pace,
                "server_connections_open": peak["open"], "idle_opened": rep.idle_open,
                "idle_dropped": rep.idle_dropped,
                "errors": rep.errors + rep.connect_failures, "error_samples": rep.error_samples,
                "replies": rep.replies, **summary_ms(rep.latencies),
                "rss_base_mb": round(base_rss, 1), "rss_peak_mb": round(peak["rss"], 1),
                "rss_per_1000_conn_mb": round((peak["rss"] - base_rss) * per_k, 1),
                "pss_per_1000_conn_mb": round((peak["pss"] - base_pss) * per_k, 1)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle", default="1000,3000")
    ap.add_argument("--chatters", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--pace", type=float, default=0.5)
    ap.add_argument("--quick", action="store_true", help="1,000 idle, 8 s")
    args = ap.parse_args(argv)
    raise_fd_limit()
    idles = [1000] if args.quick else [int(x) for x in args.idle.split(",")]
    seconds = 8.0 if args.quick else args.seconds
    rows = []
    for idle in idles:
        rows.append(measure(idle, args.chatters, seconds, args.pace))
        r = rows[-1]
        print(f"{idle} idle + {args.chatters} chatting: open {r['server_connections_open']}, "
              f"p99 {r['p99_ms']} ms, errors {r['errors']}, dropped {r['idle_dropped']}, "
              f"RSS {r['rss_base_mb']} -> {r['rss_peak_mb']} MiB "
              f"({r['rss_per_1000_conn_mb']} MiB / 1,000 conn)", flush=True)
    limit = int(gunicorn_flag("--workers", "1")) * int(gunicorn_flag("--worker-connections", "1000"))
    data = {"rows": rows, "seconds": seconds, "server_connection_limit": limit,
            "rate_limit_env": UNLIMITED}
    Result("capacity", "python bench/capacity.py" + (" --quick" if args.quick else ""), data).save()
    return data


if __name__ == "__main__":
    main()
