"""Reply latency and throughput at 10, 100 and 500 concurrent websocket clients, beside a
bare flask-sock echo endpoint run with the same gunicorn flags, in the same run.

Each client is closed-loop: it asks a dev-case question, waits for its reply, asks the next
one at once. That saturates the server, so replies/s is the ceiling and the latency at a
given client count includes queueing. The ratio bot/echo says how close the chatbot gets to
the limit of its own stack. Server CPU per reply is quoted too: on a 2-core machine the load
generator shares the CPU with the server, and per-reply CPU is the figure it cannot distort.

Each figure is the median of interleaved rounds (echo, bot, bot uncached, then again).

usage: python bench/latency.py [--clients 10,100,500] [--seconds 6] [--rounds 3] [--quick]
"""
from __future__ import annotations

import argparse
import time

from common import (BOT_APP, ECHO_APP, UNLIMITED, Result, cpu_seconds, questions,
                    raise_fd_limit, start_server, summary_ms)
from wsclient import Plan, run_load


def measure(server, clients: int, seconds: float, qs: list[str]) -> dict:
    """One closed-loop run against `server`."""
    ramp = 1.0 + clients / 250
    plan = Plan(server.ws_url, server.origin, qs, chatters=clients, duration=seconds,
                start_at=time.time() + ramp)
    pids = server.pids()
    cpu0 = cpu_seconds(pids)
    rep = run_load(plan, processes=2)
    server_cpu = cpu_seconds(pids) - cpu0  # includes the connect ramp: a small overcount
    return {"clients": clients, "replies_per_s": round(rep.replies / seconds, 1),
            **summary_ms(rep.latencies), "errors": rep.errors + rep.connect_failures,
            "error_samples": rep.error_samples,
            "server_cpu_us_per_reply": round(1e6 * server_cpu / max(rep.replies, 1), 1),
            "client_cpu_share": round(rep.client_cpu_s / max(rep.client_cpu_s + server_cpu,
                                                              1e-9), 2)}


def median_run(runs: list[dict]) -> dict:
    """The run with the median replies/s, with every run's figure beside it: on a 2-core machine
    shared with the load generator one run can be 30% off, so each figure is a median of rounds."""
    ordered = sorted(runs, key=lambda r: r["replies_per_s"])
    return {**ordered[len(ordered) // 2], "runs_replies_per_s": [r["replies_per_s"] for r in runs]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="10,100,500")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians reported")
    ap.add_argument("--quick", action="store_true", help="3 s per run, one round")
    args = ap.parse_args(argv)
    seconds = 3.0 if args.quick else args.seconds
    rounds = 1 if args.quick else args.rounds
    raise_fd_limit()
    qs = questions()
    rows = []
    # The server caches only public questions' replies (the suggestion chips and the
    # article's questions, REPLY_CACHE_SIZE): the dev questions are patients' own words, so
    # nearly every reply is computed on both bot servers; REPLY_CACHE_SIZE=0 turns the
    # chips' cache off too.
    with start_server(ECHO_APP, env=UNLIMITED) as echo, \
            start_server(BOT_APP, env=UNLIMITED) as bot, \
            start_server(BOT_APP, env={**UNLIMITED, "REPLY_CACHE_SIZE": "0"}) as uncached:
        servers = {"echo": echo, "bot": bot, "bot_uncached": uncached}
        for n in (int(c) for c in args.clients.split(",")):
            runs: dict[str, list[dict]] = {name: [] for name in servers}
            for _ in range(rounds):  # side by side: each round measures all three in turn
                for name, server in servers.items():
                    runs[name].append(measure(server, n, seconds, qs))
            e, b, u = (median_run(runs[name]) for name in ("echo", "bot", "bot_uncached"))
            ratio = round(b["replies_per_s"] / max(e["replies_per_s"], 1e-9), 2)
            u_ratio = round(u["replies_per_s"] / max(e["replies_per_s"], 1e-9), 2)
            round_ratios = [round(x["replies_per_s"] / max(y["replies_per_s"], 1e-9), 2)
                            for x, y in zip(runs["bot"], runs["echo"])]
            rows.append({"clients": n, "bot": b, "bot_uncached": u, "echo": e,
                         "throughput_ratio": ratio, "uncached_ratio": u_ratio,
                         "round_ratios": round_ratios})
            print(f"{n:4d} clients  bot {b['replies_per_s']:8.1f}/s p99 {b['p99_ms']:6.1f} ms | "
                  f"uncached {u['replies_per_s']:8.1f}/s p99 {u['p99_ms']:6.1f} ms | "
                  f"echo {e['replies_per_s']:8.1f}/s p99 {e['p99_ms']:6.1f} ms | "
                  f"ratios {ratio} (rounds {round_ratios}) / {u_ratio} | errors "
                  f"{sum(r['errors'] for rs in runs.values() for r in rs)}", flush=True)
    data = {"seconds_per_run": seconds, "rounds": rounds, "rows": rows,
            "rate_limit_env": UNLIMITED}
    Result("latency", "python bench/latency.py" + (" --quick" if args.quick else ""), data).save()
    return data


if __name__ == "__main__":
    main()
