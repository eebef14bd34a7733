"""Hostile load (issue 14): a legitimate patient's latency while the server is attacked, with
the server's per-client limits ON (their defaults), plus what each attack costs in memory.

The Procfile server runs with TRUSTED_PROXIES=127.0.0.1 and every other setting at its default,
so the attacker and the patients, all on loopback, are different clients by X-Forwarded-For:
the attacker 203.0.113.x, the patients 198.51.100.x. The legitimate client is 4 patients, each
with its own websocket asking a dev question every 0.8 s (together one every 0.2 s, each within
the per-connection 20 messages / 10 s), plus a /healthz poll every 0.25 s on a new connection.
It is measured for a window with no attack, then during each attack (the attack runs in its own
process, ramps up, then goes on through the window), then again with no attack.

Attacks (each from one client address unless said otherwise, bounded in time):
  idle_websockets   N websockets opened and held (every TCP connection is held, whatever the
                    server answered)
  slow_body         N POST /api/ask that send their headers and never the body
  reconnect_flood   50 parallel loops: connect, send 30 questions at once, read, close, again
  huge_headers      20 parallel loops of GET /ws with 95 headers of 8 KB each
  junk_stream       500-character messages of random 19-30-letter words at ~19 KB/s over 10 chats

Also measured: 100 deflate bombs (handshake offering permessage-deflate, then ~4 KB compressed
frames that inflate to ~4 MB) and 3,000 junk messages (150 chats from 150 addresses, 20 each, so
the limits let every one be answered), by the workers' VmRSS before and after; 300 rapid
POST /api/ask from one client (how many get 429); and, on a second server with the rate limits
raised (bench/common.py UNLIMITED) so that only cost is measured: a junk message vs a normal
question (round trip, the server's own latency_ms from its log, and the engine in-process), and
the timing side channel (a question another patient asked first vs a never-asked one, and a
suggestion chip).

usage: python bench/attacks.py [--quick] [--window 12] [--idle 4000] [--slow 4100]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import random
import string
import struct
import sys
import threading
import time
import zlib

from common import (ROOT, UNLIMITED, Result, cpu_seconds, median, percentile, questions,
                    raise_fd_limit, rss_mb, start_server, summary_ms)
from wsclient import WS, Closed

SAFETY_EXAMPLES = ROOT / "corpus" / "examples" / "safety.jsonl"

PATIENTS = [f"198.51.100.{i}" for i in range(1, 5)]
PATIENT_PACE = 0.8  # each patient; 4 patients: one question every 0.2 s
HEALTH_EVERY = 0.25
LIMIT_S = 3.0  # done-criterion: a legitimate chat and /healthz answer within 3 s
TRUSTED = {"TRUSTED_PROXIES": "127.0.0.1"}


# -- raw connections ---------------------------------------------------------------------

async def http_open(port: int, request: bytes, timeout: float = 10.0):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, limit=2**20), timeout)
    writer.write(request)
    return reader, writer


def status_of(head: bytes) -> int:
    try:
        return int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


async def ws_open(port: int, xff: str, extra: str = "", timeout: float = 10.0):
    """A websocket handshake as `xff`; returns (status, head, WS or None)."""
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"Origin: http://127.0.0.1:{port}\r\nX-Forwarded-For: {xff}\r\n{extra}\r\n").encode()
    reader, writer = await http_open(port, req, timeout)
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except BaseException:
        writer.close()
        raise
    status = status_of(head)
    ws = WS(reader, writer) if status == 101 else None
    if ws is None:
        writer.reader = reader  # for attacks that hold the connection and watch it
    return status, head, ws, writer


async def ask(ws: WS, text: str, mid: str, timeout: float = 10.0, context=None) -> dict:
    frame = {"type": "ask", "id": mid, "text": text}
    if context is not None:
        frame["context"] = context
    ws.send_text(json.dumps(frame))
    while True:
        msg = await asyncio.wait_for(ws.recv_json(), timeout)
        if msg.get("id") == mid or msg.get("type") == "error" and msg.get("id") is None:
            return msg


def junk(rng: random.Random, chars: int = 500) -> str:
    words, n = [], 0
    while True:
        w = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(19, 30)))
        if n + len(w) + 1 > chars:
            return " ".join(words)
        words.append(w)
        n += len(w) + 1


# -- the legitimate client -----------------------------------------------------------------

async def patient(port: int, xff: str, idx: int, qs: list[str], end: float, out: dict) -> None:
    t0 = time.perf_counter()
    try:
        status, _, ws, writer = await ws_open(port, xff)
        if ws is None:
            writer.close()
            out["failures"].append(f"handshake {status}")
            return
        await asyncio.wait_for(ws.recv_json(), 10)  # welcome
    except (OSError, asyncio.TimeoutError, Closed, asyncio.IncompleteReadError) as exc:
        out["failures"].append(f"connect: {type(exc).__name__}")
        out["connect"].append(time.perf_counter() - t0)
        return
    out["connect"].append(time.perf_counter() - t0)
    await asyncio.sleep(idx * PATIENT_PACE / len(PATIENTS))
    n = 0
    try:
        while time.time() < end:
            sent = time.perf_counter()
            try:
                msg = await ask(ws, qs[(idx * 7 + n) % len(qs)], f"p{idx}-{n}", timeout=10)
            except asyncio.TimeoutError:
                out["failures"].append("reply timeout (10 s)")
                out["chat"].append(10.0)
                break
            took = time.perf_counter() - sent
            n += 1
            if msg.get("type") == "error":
                out["failures"].append(f"error {msg.get('code')}")
            out["chat"].append(took)
            await asyncio.sleep(max(0.0, PATIENT_PACE - took))
    except (Closed, OSError) as exc:
        out["failures"].append(f"closed: {exc}")
    finally:
        ws.close()


async def health_poller(port: int, end: float, out: dict) -> None:
    while time.time() < end:
        t0 = time.perf_counter()
        try:
            r, w = await http_open(port, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                         f"Connection: close\r\n\r\n".encode())
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
            w.close()
            if status_of(head) != 200:
                out["health_failures"].append(f"status {status_of(head)}")
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            out["health_failures"].append(type(exc).__name__)
        took = time.perf_counter() - t0
        out["health"].append(took)
        await asyncio.sleep(max(0.0, HEALTH_EVERY - took))


async def legit_window(port: int, seconds: float, qs: list[str]) -> dict:
    out = {"chat": [], "connect": [], "health": [], "failures": [], "health_failures": []}
    end = time.time() + seconds
    await asyncio.gather(*(patient(port, x, i, qs, end, out) for i, x in enumerate(PATIENTS)),
                         health_poller(port, end, out))
    chat = summary_ms(out["chat"])
    worst = max(out["chat"] + out["connect"] + out["health"], default=0.0)
    return {"chat": chat, "connect_max_ms": round(1000 * max(out["connect"], default=0), 1),
            "health": summary_ms(out["health"]), "failures": len(out["failures"]),
            "health_failures": len(out["health_failures"]),
            "failure_samples": sorted(set(out["failures"] + out["health_failures"]))[:5],
            "worst_ms": round(1000 * worst, 1),
            "within_3s": worst <= LIMIT_S and not out["failures"] and not out["health_failures"]}


# -- the attacks (each runs in its own process) -----------------------------------------------

async def _ramp(one, n: int) -> None:
    """Runs `one()` n times at once, started a hundred at a time (a ramp, not one burst)."""
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(one()))
        if i % 100 == 99:
            await asyncio.sleep(0.02)
    await asyncio.gather(*tasks)


async def _wait(stop) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.05)


async def idle_websockets(port, p, ready, stop) -> dict:
    """p['n'] websocket handshakes from one client; every connection is held open."""
    counts: dict[str, int] = {}
    held = []

    async def one():
        try:
            status, _, ws, writer = await ws_open(port, p["xff"], timeout=20)
            held.append((ws.reader if ws else writer.reader, writer))
            counts[str(status)] = counts.get(str(status), 0) + 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            counts[type(exc).__name__] = counts.get(type(exc).__name__, 0) + 1

    await _ramp(one, p["n"])
    ready.set()
    await _wait(stop)
    async def gone(reader) -> bool:  # has the server closed it meanwhile?
        try:
            await asyncio.wait_for(reader.read(-1), 1.0)
            return True
        except asyncio.TimeoutError:
            return False
        except OSError:
            return True

    closed = sum(await asyncio.gather(*(gone(r) for r, _ in held)))
    for _, w in held:
        w.close()
    return {"attempted": p["n"], "responses": counts, "closed_by_server": closed,
            "still_open_at_end": len(held) - closed}


async def slow_body(port, p, ready, stop) -> dict:
    """p['n'] POST /api/ask with Content-Length: 60 and no body, all held."""
    counts: dict[str, int] = {}
    conns = []
    req = (f"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
           f"Content-Length: 60\r\nX-Forwarded-For: {p['xff']}\r\n\r\n").encode()

    async def one():
        try:
            r, w = await http_open(port, req, timeout=20)
            conns.append((r, w))
        except (OSError, asyncio.TimeoutError) as exc:
            counts[type(exc).__name__] = counts.get(type(exc).__name__, 0) + 1

    await _ramp(one, p["n"])
    ready.set()
    answered_at: dict[str, list[float]] = {}
    t0 = time.time()

    async def watch(r):
        try:
            head = await r.readuntil(b"\r\n\r\n")
            code = str(status_of(head))
        except (asyncio.IncompleteReadError, OSError):
            code = "closed"
        answered_at.setdefault(code, []).append(time.time() - t0)

    watchers = [asyncio.create_task(watch(r)) for r, _ in conns]
    await _wait(stop)
    for t in watchers:
        t.cancel()
    for _, w in conns:
        w.close()
    for code, ts in answered_at.items():
        counts[code] = counts.get(code, 0) + len(ts)
    pending = len(conns) - sum(len(v) for v in answered_at.values())
    return {"attempted": p["n"], "responses": counts, "unanswered_at_end": pending,
            "answer_after_s_median": {k: round(median(v), 2) for k, v in answered_at.items()}}


async def reconnect_flood(port, p, ready, stop) -> dict:
    """50 loops: connect, 30 questions at once, read every answer, close, reconnect."""
    qs = p["qs"]
    c = {"connections": 0, "refused_handshakes": 0, "replies": 0, "errors": {}, "broken": 0}

    async def loop(k):
        n = 0
        while not stop.is_set():
            try:
                status, _, ws, writer = await ws_open(port, p["xff"])
                if ws is None:
                    c["refused_handshakes"] += 1
                    writer.close()
                    await asyncio.sleep(0.05)
                    continue
                c["connections"] += 1
                await asyncio.wait_for(ws.recv_json(), 10)
                for i in range(30):
                    ws.send_text(json.dumps({"type": "ask", "id": i, "text": qs[(k + n + i) % len(qs)]}))
                for _ in range(30):
                    msg = await asyncio.wait_for(ws.recv_json(), 10)
                    if msg.get("type") == "error":
                        c["errors"][msg.get("code")] = c["errors"].get(msg.get("code"), 0) + 1
                    else:
                        c["replies"] += 1
                n += 30
                ws.close()
            except (OSError, asyncio.TimeoutError, Closed, asyncio.IncompleteReadError):
                c["broken"] += 1
                await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(loop(k)) for k in range(50)]
    await asyncio.sleep(1.0)
    ready.set()
    await _wait(stop)
    await asyncio.gather(*tasks, return_exceptions=True)
    return c


async def huge_headers(port, p, ready, stop) -> dict:
    """20 loops of GET /ws with 95 headers of 8 KB (~760 KB a request)."""
    block = "".join(f"X-Pad-{i}: {'a' * 8000}\r\n" for i in range(95))
    req = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-For: {p['xff']}\r\n"
           f"{block}\r\n").encode()
    counts: dict[str, int] = {}
    sent_bytes = [0]

    async def loop():
        while not stop.is_set():
            try:
                r, w = await http_open(port, req)
                try:
                    await asyncio.wait_for(w.drain(), 10)
                    sent_bytes[0] += len(req)
                except (OSError, asyncio.TimeoutError):
                    pass
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
                code = str(status_of(head))
                w.close()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                code = type(exc).__name__
            counts[code] = counts.get(code, 0) + 1

    tasks = [asyncio.create_task(loop()) for _ in range(20)]
    await asyncio.sleep(1.0)
    ready.set()
    await _wait(stop)
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"requests": sum(counts.values()), "responses": counts, "mb_sent": round(sent_bytes[0] / 2**20, 1)}


async def junk_stream(port, p, ready, stop) -> dict:
    """~19 KB/s of 500-character junk messages over 10 chats of one client."""
    rng = random.Random(5)
    rate = p["bytes_per_s"]
    c = {"sent": 0, "bytes": 0, "replies": 0, "errors": {}, "reconnects": 0}
    chats = 10
    frame_bytes = 560
    per_chat_interval = chats * frame_bytes / rate

    async def reader(ws):
        try:
            while True:
                msg = await ws.recv_json()
                if msg.get("type") == "error":
                    c["errors"][msg.get("code")] = c["errors"].get(msg.get("code"), 0) + 1
                elif msg.get("type") == "reply":
                    c["replies"] += 1
        except (Closed, OSError, asyncio.CancelledError):
            pass

    async def chat(k):
        await asyncio.sleep(k * per_chat_interval / chats)
        ws, rd = None, None
        while not stop.is_set():
            if ws is None:
                try:
                    status, _, ws, writer = await ws_open(port, p["xff"])
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                    ws = None
                if ws is None:
                    c["reconnects"] += 1
                    await asyncio.sleep(0.5)
                    continue
                rd = asyncio.create_task(reader(ws))
            text = json.dumps({"type": "ask", "id": c["sent"], "text": junk(rng)})
            try:
                ws.send_text(text)
            except (OSError, RuntimeError):
                ws = None
                continue
            c["sent"] += 1
            c["bytes"] += len(text)
            await asyncio.sleep(per_chat_interval)
        if rd:
            rd.cancel()

    t0 = time.time()
    tasks = [asyncio.create_task(chat(k)) for k in range(chats)]
    await asyncio.sleep(1.0)
    ready.set()
    await _wait(stop)
    await asyncio.gather(*tasks, return_exceptions=True)
    c["kb_per_s"] = round(c["bytes"] / 1024 / max(time.time() - t0, 1e-9), 1)
    return c


ATTACKS = {"idle_websockets": idle_websockets, "slow_body": slow_body,
           "reconnect_flood": reconnect_flood, "huge_headers": huge_headers,
           "junk_stream": junk_stream}


def _attack_main(name, port, params, ready, stop, queue) -> None:
    raise_fd_limit()
    t0 = time.process_time()
    stats = asyncio.run(ATTACKS[name](port, params, ready, stop))
    stats["attacker_cpu_s"] = round(time.process_time() - t0, 2)
    queue.put(stats)


def listen_overflows() -> int:
    """TcpExt ListenOverflows of this network namespace: SYNs dropped because a listening
    socket's accept queue was full (the client retries after 1 s, then 2 s more)."""
    try:
        lines = [x.split() for x in open("/proc/net/netstat") if x.startswith("TcpExt:")]
        return int(lines[1][lines[0].index("ListenOverflows")])
    except (OSError, ValueError, IndexError):
        return -1


def workers(server) -> list[int]:
    return [p for p in server.pids() if p != server.proc.pid]


class Peak:
    """Samples the workers' summed VmRSS every 0.25 s."""

    def __init__(self, server):
        self.server, self.peak, self.done = server, rss_mb(workers(server)), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.wait(0.25):
            self.peak = max(self.peak, rss_mb(workers(self.server)))

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        return round(self.peak, 1)


def under_attack(server, name: str, params: dict, window: float, qs: list[str]) -> dict:
    ctx = mp.get_context("fork")
    ready, stop, queue = ctx.Event(), ctx.Event(), ctx.Queue()
    rss0, cpu0 = rss_mb(workers(server)), cpu_seconds(server.pids())
    overflows0 = listen_overflows()
    peak = Peak(server)
    proc = ctx.Process(target=_attack_main, args=(name, server.port, params, ready, stop, queue),
                       daemon=True)
    t0 = time.time()
    proc.start()
    engaged = ready.wait(timeout=90)
    ramp = time.time() - t0
    overflows1 = listen_overflows()
    legit = asyncio.run(legit_window(server.port, window, qs))
    overflows2 = listen_overflows()
    stop.set()
    try:
        stats = queue.get(timeout=60)
    except Exception:  # noqa: BLE001
        stats = {"error": "attack process did not report"}
    proc.join(timeout=10)
    if proc.is_alive():
        proc.kill()
    time.sleep(1.0)
    row = {"attack": name, "legit": legit, "attack_stats": stats, "ramp_s": round(ramp, 1),
           "engaged": engaged, "listen_overflows_ramp": overflows1 - overflows0,
           "listen_overflows_window": overflows2 - overflows1, "server_cpu_s": round(cpu_seconds(server.pids()) - cpu0, 1),
           "rss_before_mb": round(rss0, 1), "rss_peak_mb": peak.stop(),
           "rss_after_mb": round(rss_mb(workers(server)), 1)}
    show(name, row)
    return row


def show(name: str, row: dict) -> None:
    lg = row["legit"]
    print(f"{name:18s} chat p50/p99/max {lg['chat']['p50_ms']}/{lg['chat']['p99_ms']}/"
          f"{lg['chat']['max_ms']} ms (n={lg['chat']['count']}), connect max {lg['connect_max_ms']} ms,"
          f" healthz max {lg['health']['max_ms']} ms, failures {lg['failures']}+{lg['health_failures']}"
          f" {lg['failure_samples']} | RSS {row.get('rss_before_mb')} -> {row.get('rss_after_mb')}"
          f" | SYNs dropped (ramp/window) {row.get('listen_overflows_ramp')}/"
          f"{row.get('listen_overflows_window')}"
          f" | {json.dumps(row.get('attack_stats', {}))[:300]}", flush=True)


# -- memory, limits, cost and the side channel (no window) -------------------------------------

def deflate_bomb_frame(inflated_bytes: int) -> bytes:
    body = b'{"type": "ask", "id": 1, "text": "' + b"a" * inflated_bytes + b'"}'
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(body) + comp.flush(zlib.Z_SYNC_FLUSH)
    data = data[:-4] if data.endswith(b"\x00\x00\xff\xff") else data
    n = len(data)
    head = struct.pack("!BB", 0xC1, 0x80 | 126) + struct.pack("!H", n) if n < 65536 else \
        struct.pack("!BBQ", 0xC1, 0x80 | 127, n)
    return head + b"\x00\x00\x00\x00" + data


async def deflate_bombs(server, n: int) -> dict:
    frame = deflate_bomb_frame(4 * 2**20)
    out = {"bombs": n, "frame_bytes": len(frame), "inflates_to_mb": 4, "deflate_agreed": 0,
           "outcomes": {}}

    async def one(i):
        try:
            status, head, ws, writer = await ws_open(
                server.port, f"203.0.113.{20 + i % 50}",
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
            if b"sec-websocket-extensions" in head.lower():
                out["deflate_agreed"] += 1
            if ws is None:
                key = f"handshake {status}"
            else:
                await asyncio.wait_for(ws.recv_json(), 10)
                ws.writer.write(frame * 3)
                try:
                    msg = await asyncio.wait_for(ws.recv(), 5)
                    key = "answered: " + json.loads(msg).get("type", "?")
                except Closed as exc:
                    key = f"closed by server ({exc})"
                except asyncio.TimeoutError:
                    key = "no answer in 5 s"
            writer.close()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            key = type(exc).__name__
        out["outcomes"][key] = out["outcomes"].get(key, 0) + 1

    await asyncio.gather(*(one(i) for i in range(n)))
    return out


async def junk_flood(server, total: int, per_chat: int = 20, parallel: int = 15) -> dict:
    rng = random.Random(14)
    out = {"messages": total, "replies": 0, "errors": {}, "chats": total // per_chat}
    queue = list(range(total // per_chat))

    async def worker():
        while queue:
            k = queue.pop()
            status, _, ws, writer = await ws_open(server.port, f"203.0.113.{100 + k % 150}"
                                                  if k < 150 else f"192.0.2.{k % 250}")
            if ws is None:
                out["errors"][f"handshake {status}"] = out["errors"].get(f"handshake {status}", 0) + per_chat
                writer.close()
                continue
            await asyncio.wait_for(ws.recv_json(), 10)
            for i in range(per_chat):
                msg = await ask(ws, junk(rng), str(i), context={})
                if msg.get("type") == "error":
                    out["errors"][msg.get("code")] = out["errors"].get(msg.get("code"), 0) + 1
                else:
                    out["replies"] += 1
            ws.close()

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return out


def rest_flood(port: int, n: int, xff: str) -> dict:
    async def run():
        counts: dict[str, int] = {}
        sem = asyncio.Semaphore(10)
        body = json.dumps({"text": "what are the side effects of methotrexate"}).encode()
        req = (f"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nX-Forwarded-For: {xff}\r\nConnection: close\r\n\r\n"
               ).encode() + body

        async def one():
            async with sem:
                try:
                    r, w = await http_open(port, req)
                    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
                    rest = await asyncio.wait_for(r.read(), 10)
                    w.close()
                    code = str(status_of(head))
                    if code == "429":
                        code += " " + json.loads(rest).get("code", "?")
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                    code = type(exc).__name__
                counts[code] = counts.get(code, 0) + 1
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return counts, time.perf_counter() - t0

    counts, took = asyncio.run(run())
    return {"requests": n, "responses": counts, "seconds": round(took, 2),
            "refused_429": sum(v for k, v in counts.items() if k.startswith("429"))}


def server_latencies(server, since: int) -> list[dict]:
    """The `reply` lines the server logged after byte offset `since` of its log."""
    time.sleep(0.5)  # reply lines are written in batches within 0.2 s
    out = []
    with open(server.log_path, "rb") as f:
        f.seek(since)
        for line in f:
            if line.startswith(b"{") and b'"event": "reply"' in line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


async def cost(server, normal: list[str], n: int) -> dict:
    """Junk vs normal questions, alternating on one connection, each with an empty context."""
    rng = random.Random(21)
    status, _, ws, writer = await ws_open(server.port, "198.51.100.50")
    await ws.recv_json()
    for i in range(10):  # warm up
        await ask(ws, normal[i % len(normal)], f"w{i}", context={})
        await ask(ws, junk(rng), f"wj{i}", context={})
    time.sleep(0.5)  # the warm-up's reply lines are written within 0.2 s
    since = server.log_path.stat().st_size
    times = {"normal": [], "junk": []}
    for i in range(n):
        for kind in ("normal", "junk"):
            text = normal[i % len(normal)] if kind == "normal" else junk(rng)
            t0 = time.perf_counter()
            msg = await ask(ws, text, f"{kind}{i}", context={})
            times[kind].append(time.perf_counter() - t0)
            assert msg.get("type") == "reply", msg
    ws.close()
    logged = server_latencies(server, since)
    srv = {"normal": [x["latency_ms"] for x in logged if x.get("chars", 0) < 300],
           "junk": [x["latency_ms"] for x in logged if x.get("chars", 0) >= 300]}
    out = {"pairs": n}
    for kind in ("normal", "junk"):
        out[f"{kind}_rtt_ms"] = round(1000 * median(times[kind]), 2)
        out[f"{kind}_server_ms"] = round(median(srv[kind]), 2)
        out[f"{kind}_server_p99_ms"] = round(percentile(srv[kind], 99), 2)
    out["rtt_ratio"] = round(out["junk_rtt_ms"] / max(out["normal_rtt_ms"], 1e-9), 2)
    out["server_ratio"] = round(out["junk_server_ms"] / max(out["normal_server_ms"], 1e-9), 2)
    return out


def engine_cost(bot, normal: list[str], n: int) -> dict:
    rng = random.Random(22)
    for q in normal[:10]:
        bot.reply(q, {})
    times = {"normal": [], "junk": []}
    for i in range(n):
        for kind in ("normal", "junk"):
            text = normal[i % len(normal)] if kind == "normal" else junk(rng)
            t0 = time.perf_counter()
            bot.reply(text, {})
            times[kind].append(time.perf_counter() - t0)
    # for scale: real long messages (350-500 characters, labelled `none` in the safety examples)
    long = [m["text"] for m in map(json.loads, filter(str.strip, SAFETY_EXAMPLES.read_text(
        ).splitlines())) if m.get("kind") == "none" and 350 <= len(m["text"]) <= 500][:n]
    times["long_message"] = []
    for text in long:
        t0 = time.perf_counter()
        bot.reply(text, {})
        times["long_message"].append(time.perf_counter() - t0)
    out = {f"{k}_ms": round(1000 * median(v), 3) for k, v in times.items()}
    out["long_messages"] = len(long)
    out["ratio"] = round(out["junk_ms"] / max(out["normal_ms"], 1e-9), 2)
    out["ratio_to_long"] = round(out["junk_ms"] / max(out["long_message_ms"], 1e-9), 2)
    return out


DRUGS = ["methotrexate", "dupixent", "cyclosporine", "azathioprine", "mycophenolate",
         "prednisone", "adbry", "rinvoq", "cibinqo", "tralokinumab"]
WORRIES = ["hair thinning", "tiredness", "headaches", "mouth sores", "blurry vision", "acne",
           "joint pain", "nausea", "weight gain", "trouble sleeping", "cold sores", "a rash"]
WHO = ["for a teenager", "at 70", "for my husband", "while travelling", "with asthma",
       "after surgery", "in winter", "for a student"]


def novel_questions(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add(f"can {rng.choice(DRUGS)} cause {rng.choice(WORRIES)} {rng.choice(WHO)}")
    return sorted(out)


async def side_channel(server, pairs: int, chip: str) -> dict:
    """A never-asked question vs one another patient asked first, both timed from the
    attacker's own connection (empty context each time); a suggestion chip beside them."""
    qs = novel_questions(2 * pairs, seed=int(time.time()))
    rng = random.Random(3)
    rng.shuffle(qs)
    victim_qs, fresh_qs = qs[:pairs], qs[pairs:]
    _, _, victim, _ = await ws_open(server.port, "198.51.100.60")
    _, _, spy, _ = await ws_open(server.port, "203.0.113.60")
    await victim.recv_json()
    await spy.recv_json()
    for i in range(10):  # warm up both on questions used nowhere else
        await ask(spy, f"does prednisone help eczema {i} times", f"w{i}", context={})
    times = {"never_asked": [], "asked_before": [], "chip": []}
    for i in range(pairs):
        await ask(victim, victim_qs[i], f"v{i}", context={})  # another patient asks first
        order = [("asked_before", victim_qs[i]), ("never_asked", fresh_qs[i]), ("chip", chip)]
        if i % 2:
            order = order[::-1]
        for kind, text in order:
            t0 = time.perf_counter()
            await ask(spy, text, f"{kind}{i}", context={})
            times[kind].append(time.perf_counter() - t0)
    victim.close()
    spy.close()
    out = {"pairs": pairs, "chip": chip}
    for kind, v in times.items():
        out[f"{kind}_ms"] = round(1000 * median(v), 3)
    out["ratio_never_over_before"] = round(out["never_asked_ms"] / max(out["asked_before_ms"], 1e-9), 2)
    out["ratio_never_over_chip"] = round(out["never_asked_ms"] / max(out["chip_ms"], 1e-9), 2)
    return out


# -- main --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller numbers, under 2 minutes")
    ap.add_argument("--window", type=float, default=12.0, help="seconds measured per attack")
    ap.add_argument("--idle", type=int, default=4000)
    ap.add_argument("--slow", type=int, default=4100)
    args = ap.parse_args(argv)
    q = args.quick
    window = 4.0 if q else args.window
    fd_limit = raise_fd_limit()
    # the client process holds every attack connection: keep room for the patients
    idle_n = min(1000 if q else args.idle, fd_limit - 200)
    slow_n = min(1000 if q else args.slow, fd_limit - 200)
    n_bombs, n_junk = (30, 600) if q else (100, 3000)
    cost_pairs, side_pairs = (40, 15) if q else (200, 40)
    qs = questions()
    started = time.time()

    data: dict = {"quick": q, "load_before": [round(x, 2) for x in os.getloadavg()],
                  "window_s": window, "fd_soft_limit": fd_limit, "patients": len(PATIENTS),
                  "patient_pace_s": PATIENT_PACE, "health_every_s": HEALTH_EVERY,
                  "env": TRUSTED, "rows": []}
    with start_server(env=TRUSTED) as srv:
        time.sleep(0.5)
        legit = asyncio.run(legit_window(srv.port, window, qs))  # warm-up, not reported
        row = {"attack": "none", "legit": asyncio.run(legit_window(srv.port, window, qs)),
               "rss_before_mb": round(rss_mb(workers(srv)), 1)}
        show("none", row)
        data["rows"].append(row)

        before = rss_mb(workers(srv))
        bombs = asyncio.run(deflate_bombs(srv, n_bombs))
        time.sleep(1.0)
        bombs.update(rss_before_mb=round(before, 1), rss_after_mb=round(rss_mb(workers(srv)), 1))
        bombs["rss_growth_mb"] = round(bombs["rss_after_mb"] - bombs["rss_before_mb"], 1)
        print("deflate bombs", json.dumps(bombs), flush=True)
        data["deflate_bombs"] = bombs

        before = rss_mb(workers(srv))
        t0 = time.perf_counter()
        jm = asyncio.run(junk_flood(srv, n_junk))
        jm["seconds"] = round(time.perf_counter() - t0, 1)
        time.sleep(1.0)
        jm.update(rss_before_mb=round(before, 1), rss_after_mb=round(rss_mb(workers(srv)), 1))
        jm["rss_growth_mb"] = round(jm["rss_after_mb"] - jm["rss_before_mb"], 1)
        print("junk memory", json.dumps(jm), flush=True)
        data["junk_memory"] = jm

        attacks = [("idle_websockets", {"n": idle_n, "xff": "203.0.113.1"}),
                   ("slow_body", {"n": slow_n, "xff": "203.0.113.2"}),
                   ("reconnect_flood", {"xff": "203.0.113.3", "qs": qs}),
                   ("huge_headers", {"xff": "203.0.113.4"}),
                   ("junk_stream", {"xff": "203.0.113.5", "bytes_per_s": 19 * 1024})]
        for name, params in attacks:
            row = under_attack(srv, name, params, window, qs)
            row["attack_stats"].pop("qs", None)
            data["rows"].append(row)
            time.sleep(2.0)

        data["rest_flood"] = rest_flood(srv.port, 300, "203.0.113.9")
        print("rest flood", json.dumps(data["rest_flood"]), flush=True)

        row = {"attack": "none (after)", "legit": asyncio.run(legit_window(srv.port, window, qs)),
               "rss_before_mb": round(rss_mb(workers(srv)), 1)}
        show("none (after)", row)
        data["rows"].append(row)

    from chatbot.config import Settings
    from chatbot.core import load_bot
    bot = load_bot(Settings.from_env()).prepare()
    public = set(bot.public_questions())
    normal = [x for x in qs if x not in public and len(x) < 300]
    chip = bot.welcome()["suggestions"][0]
    with start_server(env={**UNLIMITED, **TRUSTED}) as srv:
        time.sleep(0.5)
        data["cost"] = asyncio.run(cost(srv, normal, cost_pairs))
        print("cost", json.dumps(data["cost"]), flush=True)
        data["side_channel"] = asyncio.run(side_channel(srv, side_pairs, chip))
        print("side channel", json.dumps(data["side_channel"]), flush=True)
    data["cost"]["engine"] = engine_cost(bot, normal, cost_pairs)
    print("engine", json.dumps(data["cost"]["engine"]), flush=True)

    data["criteria"] = criteria(data)
    data["seconds"] = round(time.time() - started, 1)
    data["load_after"] = [round(x, 2) for x in os.getloadavg()]
    for k, v in data["criteria"].items():
        print(f"{'MET ' if v['met'] else 'NOT MET'} {k}: {v['figure']}", flush=True)
    Result("attacks", "python bench/attacks.py" + (" --quick" if q else ""), data).save()
    return data


QUICK = " (--quick: fewer than the criterion's number)"


def criteria(d: dict) -> dict:
    rows = [r for r in d["rows"] if not r["attack"].startswith("none")]
    worst = max(rows, key=lambda r: r["legit"]["worst_ms"])
    sc, c = d["side_channel"], d["cost"]
    return {
        "legit chat and /healthz within 3 s under every attack": {
            "met": all(r["legit"]["within_3s"] for r in rows),
            "figure": f"worst {worst['legit']['worst_ms']} ms ({worst['attack']}); failures "
                      f"{sum(r['legit']['failures'] + r['legit']['health_failures'] for r in rows)}"},
        "100 deflate bombs: worker RSS +< 150 MiB": {
            "met": d["deflate_bombs"]["rss_growth_mb"] < 150,
            "figure": f"{d['deflate_bombs']['bombs']} bombs{QUICK if d['quick'] else ''}, +{d['deflate_bombs']['rss_growth_mb']} MiB, "
                      f"deflate agreed {d['deflate_bombs']['deflate_agreed']} times"},
        "3,000 junk messages: worker RSS +< 25 MiB": {
            "met": d["junk_memory"]["rss_growth_mb"] < 25,
            "figure": f"{d['junk_memory']['messages']} messages{QUICK if d['quick'] else ''} ({d['junk_memory']['replies']} answered),"
                      f" +{d['junk_memory']['rss_growth_mb']} MiB"},
        "a junk message costs at most 5x a question": {
            "met": c["server_ratio"] <= 5 and c["rtt_ratio"] <= 5,
            "figure": f"server {c['server_ratio']}x, round trip {c['rtt_ratio']}x, engine "
                      f"{c['engine']['ratio']}x ({c['engine']['ratio_to_long']}x a real message "
                      f"of 350-500 characters)"},
        "300 rapid /api/ask from one client meet 429s": {
            "met": d["rest_flood"]["refused_429"] > 0,
            "figure": f"{d['rest_flood']['refused_429']} of 300 refused with 429"},
        "no timing side channel (asked before not faster than never asked)": {
            "met": sc["ratio_never_over_before"] <= 1.1,
            "figure": f"never asked {sc['never_asked_ms']} ms vs asked before "
                      f"{sc['asked_before_ms']} ms ({sc['ratio_never_over_before']}x), chip "
                      f"{sc['chip_ms']} ms"},
    }


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
