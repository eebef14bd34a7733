"""A small asyncio websocket client and load generator for the benchmarks.

Why not simple-websocket's Client: it runs a thread per connection, and 1,000 threads in the
load generator would cost more CPU than the server it measures. This client is one coroutine
per connection over asyncio streams, spread over a few processes, speaking just enough of
RFC 6455 for text frames, pings and close. Client frames use an all-zero mask key, which is
valid and makes masking free; the server still does its full unmasking work.
"""
from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing as mp
import os
import struct
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ZERO_MASK = b"\x00\x00\x00\x00"


class Closed(Exception):
    """The server closed the connection (or it broke)."""


class WS:
    """One client websocket connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, url: str, origin: str, timeout: float = 10.0) -> "WS":
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 80
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=2**20), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            writer.close()
            raise Closed(f"handshake refused: {status.decode(errors='replace')}")
        return cls(reader, writer)

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def _send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        self.writer.write(head + ZERO_MASK + payload)

    async def recv(self) -> str:
        """The next text message; answers pings on the way; raises Closed at close."""
        while True:
            try:
                b1, b2 = await self.reader.readexactly(2)
                n = b2 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await self.reader.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
                payload = await self.reader.readexactly(n) if n else b""
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                raise Closed(str(exc)) from None
            opcode = b1 & 0x0F
            if opcode == 0x1:
                return payload.decode()
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                raise Closed("close frame")

    async def recv_json(self) -> dict:
        return json.loads(await self.recv())

    def close(self) -> None:
        try:
            self._send(0x8, struct.pack("!H", 1000))
            self.writer.close()
        except (ConnectionError, RuntimeError):
            pass


@dataclass
class LoadReport:
    """What one load run measured, merged over all client processes."""
    latencies: list[float] = field(default_factory=list)
    replies: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    connect_failures: int = 0
    idle_open: int = 0
    idle_dropped: int = 0
    client_cpu_s: float = 0.0

    def merge(self, other: "LoadReport") -> None:
        self.latencies += other.latencies
        self.replies += other.replies
        self.errors += other.errors
        self.error_samples = (self.error_samples + other.error_samples)[:5]
        self.connect_failures += other.connect_failures
        self.idle_open += other.idle_open
        self.idle_dropped += other.idle_dropped
        self.client_cpu_s += other.client_cpu_s


@dataclass
class Plan:
    """A load to run: `chatters` asking in a loop (every `pace` s, or flat out when 0),
    `idlers` connected and silent, between wall-clock `start_at` and `start_at + duration`,
    or until `max_messages` replies per chatter have been received."""
    url: str
    origin: str
    questions: list[str]
    chatters: int
    duration: float
    start_at: float
    idlers: int = 0
    pace: float = 0.0
    max_messages: int = 0
    reply_timeout: float = 10.0
    # reconnect after this many messages, by client index modulo the tuple (0: never)
    reconnect_every: tuple[int, ...] = (0,)


async def _chatter(plan: Plan, idx: int, rep: LoadReport) -> None:
    q = plan.questions
    end = plan.start_at + plan.duration
    n = 0
    ws = None
    try:
        while time.time() < end and not (plan.max_messages and n >= plan.max_messages):
            if ws is None:
                try:
                    ws = await WS.connect(plan.url, plan.origin)
                except (OSError, asyncio.TimeoutError, Closed, asyncio.IncompleteReadError):
                    rep.connect_failures += 1
                    await asyncio.sleep(0.5)
                    continue
            if time.time() < plan.start_at:
                await asyncio.sleep(plan.start_at - time.time())
            mid = f"{os.getpid()}-{idx}-{n}"
            sent = time.perf_counter()
            ws.send_text(json.dumps({"type": "ask", "id": mid, "text": q[(idx + n) % len(q)]}))
            n += 1
            try:
                while True:
                    msg = await asyncio.wait_for(ws.recv_json(), plan.reply_timeout)
                    if msg.get("id") == mid:
                        break
            except (asyncio.TimeoutError, Closed) as exc:
                rep.errors += 1
                rep.error_samples.append(f"{type(exc).__name__}: {exc}")
                ws.close()
                ws = None
                continue
            took = time.perf_counter() - sent
            if msg.get("type") == "error":
                rep.errors += 1
                rep.error_samples.append(json.dumps(msg)[:200])
            elif time.time() <= end:
                rep.latencies.append(took)
                rep.replies += 1
            every = plan.reconnect_every[idx % len(plan.reconnect_every)]
            if every and n % every == 0:
                ws.close()
                ws = None
            if plan.pace:
                await asyncio.sleep(max(0.0, plan.pace - took) * (0.5 + (idx * 7919 % 100) / 100))
    finally:
        if ws is not None:
            ws.close()


async def _idler(plan: Plan, rep: LoadReport) -> None:
    """A patient with the chat open who says nothing: it only answers the server's pings."""
    try:
        ws = await WS.connect(plan.url, plan.origin, timeout=30)
    except (OSError, asyncio.TimeoutError, Closed, asyncio.IncompleteReadError):
        rep.connect_failures += 1
        return
    rep.idle_open += 1
    end = plan.start_at + plan.duration
    try:
        while True:
            left = end - time.time()
            if left <= 0:
                break
            await asyncio.wait_for(ws.recv(), left)  # welcome, then nothing but pings
    except (asyncio.TimeoutError, asyncio.CancelledError):
        pass
    except Closed:
        rep.idle_dropped += 1
    finally:
        ws.close()


async def _run(plan: Plan, chat_ids: range) -> LoadReport:
    rep = LoadReport()
    idle = []
    for _ in range(plan.idlers):  # open idle connections in batches so the backlog holds
        idle.append(asyncio.create_task(_idler(plan, rep)))
        if len(idle) % 50 == 0:
            await asyncio.sleep(0.02)
    if chat_ids:  # idle connections stay until the chatters are done, then hang up
        await asyncio.gather(*(_chatter(plan, i, rep) for i in chat_ids))
        await asyncio.sleep(0.5)
        for task in idle:
            task.cancel()
    await asyncio.gather(*idle, return_exceptions=True)
    return rep


def _process_main(plan: Plan, chat_ids: range, queue: "mp.Queue") -> None:
    t0 = time.process_time()
    rep = asyncio.run(_run(plan, chat_ids))
    rep.client_cpu_s = time.process_time() - t0
    queue.put(rep)


def run_load(plan: Plan, processes: int = 2) -> LoadReport:
    """Runs `plan` spread over `processes` client processes and merges what they measured."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = []
    for k in range(processes):
        ids = range(k, plan.chatters, processes)
        share = Plan(**{**plan.__dict__, "idlers": plan.idlers // processes +
                        (1 if k < plan.idlers % processes else 0)})
        p = ctx.Process(target=_process_main, args=(share, ids, queue), daemon=True)
        p.start()
        procs.append(p)
    total = LoadReport()
    deadline = plan.start_at + plan.duration + plan.reply_timeout + 120
    for _ in procs:
        total.merge(queue.get(timeout=max(1.0, deadline - time.time())))
    for p in procs:
        p.join(timeout=10)
    return total
