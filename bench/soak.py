"""Soak: 100,000 messages over mixed connections; memory at start and end, and errors.

40 chatters ask in a closed loop; a third of them keep one connection for the whole run, a
third reconnect every 20 messages (patients opening and closing the widget), a third every
500; 200 idle connections stay open throughout. Memory (RSS and PSS of master + workers) is
read before any traffic, after a warm-up of 5% of the messages (caches filled), and at the
end; growth is end vs warm-up. Bounded: it stops at the message count or the time limit.

usage: python bench/soak.py [--messages 100000] [--max-seconds 600] [--quick]
"""
from __future__ import annotations

import argparse
import time

from common import (UNLIMITED, Result, pss_mb, questions, raise_fd_limit, rss_mb,
                    start_server, summary_ms)
from wsclient import Plan, run_load

CHATTERS = 40
IDLE = 200


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--quick", action="store_true", help="20,000 messages")
    args = ap.parse_args(argv)
    total = 20_000 if args.quick else args.messages
    raise_fd_limit()
    qs = questions()
    with start_server(env=UNLIMITED) as srv:
        time.sleep(0.5)
        cold = (rss_mb(srv.pids()), pss_mb(srv.pids()))
        warm_plan = Plan(srv.ws_url, srv.origin, qs, chatters=CHATTERS, duration=120,
                         start_at=time.time() + 1, max_messages=max(1, total // 20 // CHATTERS))
        warm = run_load(warm_plan)
        start = (rss_mb(srv.pids()), pss_mb(srv.pids()))
        plan = Plan(srv.ws_url, srv.origin, qs, chatters=CHATTERS, duration=args.max_seconds,
                    start_at=time.time() + 2, idlers=IDLE,
                    max_messages=(total - warm.replies) // CHATTERS + 1,
                    reconnect_every=(0, 20, 500))
        t0 = time.time()
        rep = run_load(plan)
        took = time.time() - max(t0, plan.start_at)
        time.sleep(1.0)
        end = (rss_mb(srv.pids()), pss_mb(srv.pids()))
        restarted = srv.proc.poll() is not None
    messages = warm.replies + rep.replies
    data = {"messages": messages, "seconds": round(took, 1),
            "replies_per_s": round(rep.replies / max(took, 1e-9), 1),
            "errors": warm.errors + rep.errors + warm.connect_failures + rep.connect_failures,
            "error_samples": rep.error_samples, "idle_dropped": rep.idle_dropped,
            "rss_cold_mb": round(cold[0], 1), "rss_start_mb": round(start[0], 1),
            "rss_end_mb": round(end[0], 1),
            "rss_growth_pct": round(100 * (end[0] - start[0]) / start[0], 1),
            "pss_start_mb": round(start[1], 1), "pss_end_mb": round(end[1], 1),
            "pss_growth_pct": round(100 * (end[1] - start[1]) / start[1], 1),
            "server_exited": restarted, **summary_ms(rep.latencies)}
    print(f"{messages} messages in {data['seconds']} s, errors {data['errors']}, RSS "
          f"{data['rss_start_mb']} -> {data['rss_end_mb']} MiB ({data['rss_growth_pct']}%)")
    Result("soak", "python bench/soak.py" + (" --quick" if args.quick else ""), data).save()
    return data


if __name__ == "__main__":
    main()
