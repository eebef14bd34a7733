"""Faults and abuse against the real server (the Procfile's gunicorn on a free port).

A raw-socket websocket client is used here, not a library, because the point is to send what
no well-behaved library would: broken frames, bad opcodes, unmasked frames, half frames,
abrupt resets. After each abuse the server must still answer real patients correctly, and its
gunicorn master and workers must be the very same processes (nothing crashed and restarted).
"""
from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import DEV_CASES, named_servers
from live import parent_pids

ERROR_CODES = {"message_too_large", "binary_frame", "invalid_json", "invalid_message",
               "invalid_id", "unknown_type", "invalid_text", "empty_text", "text_too_long",
               "rate_limited"}
# Fuzzing needs every frame to reach the parser, not the per-connection rate limiter.
NO_RATE_LIMIT = {"RATE_LIMIT_MESSAGES": "1000000", "RATE_LIMIT_SECONDS": "1",
                 "CLIENT_MESSAGES": "1000000", "CLIENT_MESSAGE_RATE": "1000000"}


# The servers this module's tests run against, started together when the first is needed
# (five boot in about the time three take one after another). A test that needs
# a server nobody else has touched (a worker killed, a timeout of its own, a log read as a
# whole) has its own; the others share one per environment, in the order of this file.
FAULT_SERVERS = {
    "unlimited": NO_RATE_LIMIT,  # fuzz (runs first: it reads the whole log), slow readers
    "default": None,  # half frames, long words, the memory flood (the last to use it)
    "killed": None,  # a worker is killed: nobody else uses it
    "idle": {"IDLE_TIMEOUT": "2"},
    "send_timeout": {**NO_RATE_LIMIT, "SEND_TIMEOUT": "2"},
}


@pytest.fixture(scope="module")
def fault_servers(tmp_path_factory):
    yield from named_servers(tmp_path_factory.mktemp("faults"), FAULT_SERVERS)


class ClosedByServer(Exception):
    """The server sent a close frame or ended the TCP connection."""


OPEN: list["RawWS"] = []


@pytest.fixture(autouse=True)
def _close_sockets():
    """Every raw connection a test opened is closed, even when the test failed half-way."""
    yield
    while OPEN:
        OPEN.pop().sock.close()


class RawWS:
    """A websocket client that can also misbehave on purpose."""

    def __init__(self, server, rcvbuf: int | None = None, timeout: float = 10.0):
        self.sock = socket.socket()
        OPEN.append(self)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Origin: {server.origin}\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ClosedByServer("closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.close_code: int | None = None

    @property
    def local_port(self) -> int:
        return self.sock.getsockname()[1]

    def frame(self, opcode: int, payload: bytes, fin: bool = True, masked: bool = True,
              rsv: int = 0, declared: int | None = None) -> bytes:
        """One frame's bytes; `declared` lies about the payload length."""
        n = len(payload) if declared is None else declared
        first = (0x80 if fin else 0) | rsv << 4 | opcode
        if n < 126:
            head = struct.pack("!BB", first, (0x80 if masked else 0) | n)
        elif n < 65536:
            head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, n)
        else:
            head = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, n)
        if not masked:
            return head + payload
        key = os.urandom(4)
        mask = (key * (len(payload) // 4 + 1))[:len(payload)]  # XOR as one big integer:
        body = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")  # the same bytes
                ).to_bytes(len(payload), "big")  # as byte by byte, without a 60 KB Python loop
        return head + key + body

    def send(self, opcode: int, payload: bytes, **kw) -> None:
        self.sock.sendall(self.frame(opcode, payload, **kw))

    def send_text(self, text: str) -> None:
        self.send(0x1, text.encode("utf-8"))

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ClosedByServer("EOF")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self) -> str:
        """The next text message; pings answered; ClosedByServer at close or EOF."""
        while True:
            b1, b2 = self._read(2)
            n = b2 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b1 & 0x0F
            if opcode == 0x1:
                return payload.decode("utf-8")
            if opcode == 0x9:
                self.send(0xA, payload)
            elif opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise ClosedByServer(f"close frame {self.close_code}")

    def recv_json(self) -> dict:
        return json.loads(self.recv())

    def welcome(self) -> dict:
        msg = self.recv_json()
        assert msg["type"] == "welcome"
        return msg

    def ask(self, text: str, msg_id: str) -> dict:
        self.send_text(json.dumps({"type": "ask", "id": msg_id, "text": text}))
        return self.recv_json()

    def expect_closed(self, within: float = 10.0) -> None:
        """Reads until the server ends the connection; fails if it stays open."""
        self.sock.settimeout(within)
        with pytest.raises(ClosedByServer):
            while True:
                self.recv()

    def reset(self) -> None:
        """Abrupt disconnect: RST, no close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        try:
            self.send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def dev_questions() -> list[str]:
    return [json.loads(line)["turns"][0] for line in DEV_CASES.read_text().splitlines()
            if line.strip() and len(json.loads(line)["turns"]) == 1]


def gunicorn_pids(server) -> tuple[int, frozenset[int]]:
    """(master pid, worker pids) of a live server."""
    master = server.proc.pid
    return master, frozenset(pid for pid, ppid in parent_pids().items() if ppid == master)


def assert_engine_reply(got: dict, bot, question: str, msg_id: str,
                        state: dict | None = None) -> dict:
    """The websocket reply is the engine's own reply object (for the same conversation state),
    with the id and the server's copy of the context added; returns the engine's new state."""
    expected, new_state = bot.reply(question, state or {})
    assert {k: v for k, v in got.items() if k != "context"} == {**expected, "id": msg_id}, question
    return new_state


def assert_answers_like_the_engine(server, bot, questions: list[str]) -> None:
    """A fresh patient gets exactly the engine's own replies, context carried turn to turn."""
    ws = RawWS(server)
    ws.welcome()
    state: dict = {}
    for i, q in enumerate(questions):
        state = assert_engine_reply(ws.ask(q, f"check-{i}"), bot, q, f"check-{i}", state)
    ws.close()


# --- the fuzz --------------------------------------------------------------------------------

def malformed(rng: random.Random) -> tuple[int, bytes, set[str]]:
    """One bad frame that must get an error and leave the chat open: (opcode, payload, codes)."""
    pick = rng.randrange(12)
    junk = "".join(rng.choice('{}[]":,\\ab1 \x00\u00e9\U0001f600') for _ in range(rng.randint(1, 60)))
    if pick == 0:  # invalid JSON: truncated, trailing junk, or noise
        text = rng.choice(['{"type": "ask", "id": "1", "text": "hi"', '{"type":', "{'a': 1}",
                           '{"type": "ask"} extra', "NaN-ish {", "[1, 2", ""]) + junk[:3]
        return 0x1, text.encode(), {"invalid_json", "invalid_message", "unknown_type"}
    if pick == 1:
        return 0x1, ("{" + junk).encode(), {"invalid_json"}
    if pick == 2:  # binary frames, including binary that is valid JSON
        data = rng.choice([os.urandom(rng.randint(1, 300)),
                           b'{"type": "ask", "id": "b", "text": "biologics"}'])
        return 0x2, data, {"binary_frame"}
    if pick == 3:  # oversize but below the hard cap: an error, the chat goes on
        return 0x1, json.dumps({"type": "ask", "id": "o", "text": "a" * rng.randint(16500, 60000)}
                               ).encode(), {"message_too_large"}
    if pick == 4:  # deeply nested arrays (RecursionError territory) within 4 KiB
        d = rng.choice([50, 900, 1500, 2000])
        return 0x1, ("[" * d + "]" * d).encode(), {"invalid_json", "invalid_message"}
    if pick == 5:  # deeply nested objects
        d = rng.choice([50, 400, 650])  # 6 bytes a level: within 4 KiB
        return 0x1, ('{"a":' * d + "1" + "}" * d).encode(), {"invalid_json", "unknown_type"}
    if pick == 6:  # wrong type for text
        bad = rng.choice([123, None, [], {}, True, 1.5, ["hi"]])
        return 0x1, json.dumps({"type": "ask", "id": "t", "text": bad}).encode(), {"invalid_text"}
    if pick == 7:  # wrong type for id
        bad = rng.choice([[1], {"a": 1}, True, 1.5, "x" * 200])
        return 0x1, json.dumps({"type": "ask", "id": bad, "text": "hi"}).encode(), {"invalid_id"}
    if pick == 8:  # unknown or wrong-typed message types
        bad = rng.choice(["hello", "ASK", "", None, 5, ["ask"], "reply", "welcome", junk])
        return 0x1, json.dumps({"type": bad, "id": "u", "text": "hi"}).encode(), {"unknown_type"}
    if pick == 9:  # JSON that is not an object
        bad = rng.choice(["1", '"ask"', "null", "true", "[]", '[{"type": "ask"}]', "3.14"])
        return 0x1, bad.encode(), {"invalid_message"}
    if pick == 10:  # empty or too long text
        text = rng.choice(["", "   ", "\n\t", "x" * rng.randint(2001, 4000)])
        return 0x1, json.dumps({"type": "ask", "id": "e", "text": text}).encode(), {
            "empty_text", "text_too_long"}
    # valid JSON framed in fragments with junk inside: still one message, still one error
    return 0x1, json.dumps({"type": "ask", "id": "f", "text": 7}).encode(), {"invalid_text"}


def fuzz_connection(server, seed: int, frames: int) -> dict:
    """One connection's share of the fuzz; reconnects after each connection-ending abuse."""
    rng = random.Random(seed)
    qs = dev_questions()
    counts = {"frames": 0, "errors": 0, "replies": 0, "closed_by_abuse": 0}
    ws = RawWS(server)
    ws.welcome()
    while counts["frames"] < frames:
        counts["frames"] += 1
        roll = rng.random()
        if roll < 0.05:  # a real question in the middle of the garbage still gets its answer
            msg_id = f"q{seed}-{counts['frames']}"
            reply = ws.ask(rng.choice(qs), msg_id)
            assert reply["type"] == "reply" and reply["id"] == msg_id, reply
            counts["replies"] += 1
        elif roll < 0.10:  # abuse that ends this connection (never the server)
            abuse = rng.randrange(7)
            if abuse == 0:  # beyond the hard frame cap: close 1009
                ws.send(0x1, b"a" * 70_000)
                ws.expect_closed()
            elif abuse == 1:  # invalid UTF-8 in a text frame
                ws.send(0x1, b'{"type": "ask", "text": "\xff\xfe\xc3"}')
                ws.expect_closed()
            elif abuse == 2:  # a reserved opcode
                ws.send(rng.choice([0x3, 0x7, 0xB, 0xF]), b"x")
                ws.expect_closed()
            elif abuse == 3:  # an unmasked client frame, or RSV bits with no extension
                ws.send(0x1, b'{"type": "reset"}', **rng.choice([{"masked": False}, {"rsv": 2}]))
                ws.expect_closed()
            elif abuse == 4:  # half-closed: a question, then the write side shut
                ws.send_text(json.dumps({"type": "ask", "id": "h", "text": rng.choice(qs)}))
                ws.sock.shutdown(socket.SHUT_WR)
                try:
                    ws.expect_closed()
                except AssertionError:
                    raise
                except Exception:  # the reply may arrive before the close: fine
                    pass
            elif abuse == 5:  # abrupt reset in the middle of a frame
                ws.sock.sendall(ws.frame(0x1, b'{"type": "ask", "id": "r"', declared=400))
                ws.reset()
            else:  # abrupt reset right after a question, before its reply is read
                ws.send_text(json.dumps({"type": "ask", "id": "z", "text": rng.choice(qs)}))
                ws.reset()
            counts["closed_by_abuse"] += 1
            ws.sock.close()
            ws = RawWS(server)
            ws.welcome()
        else:
            opcode, payload, codes = malformed(rng)
            if codes == {"invalid_text"} and rng.random() < 0.5:  # fragmented delivery
                cut = len(payload) // 2
                ws.send(opcode, payload[:cut], fin=False)
                ws.send(0x0, payload[cut:])
            else:
                ws.send(opcode, payload)
            err = ws.recv_json()
            assert err["type"] == "error" and err["code"] in codes, (payload[:80], err)
            assert isinstance(err["message"], str) and err["message"]
            counts["errors"] += 1
    ws.close()
    return counts


def test_over_a_thousand_malformed_frames_from_many_connections_break_nothing(fault_servers, bot):
    server = fault_servers["unlimited"]
    before = gunicorn_pids(server)
    assert len(before[1]) >= 1
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda seed: fuzz_connection(server, seed, 150), range(8)))
    total = {k: sum(r[k] for r in results) for k in results[0]}
    assert total["frames"] >= 1200  # each connection: ~5% questions, ~5% abuse, the rest junk
    assert total["closed_by_abuse"] > 30 and total["errors"] > 900
    assert_answers_like_the_engine(server, bot, dev_questions())
    assert gunicorn_pids(server) == before, "a gunicorn process died and was replaced"
    assert server.proc.poll() is None
    log = server.log()
    assert "internal_error" not in log and "Traceback" not in log


# --- slow and dead clients ---------------------------------------------------------------------

def server_socket_queue(server_port: int, client_port: int) -> tuple[int, int] | None:
    """(tx_queue, inode) of the server's socket for one client, from /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local, remote = cols[1], cols[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return int(cols[4].split(":")[0], 16), int(cols[9])
    return None


def test_a_client_that_never_reads_does_not_block_replies_to_others(fault_servers, bot):
    server = fault_servers["unlimited"]
    victims = [RawWS(server) for _ in range(4)]  # on the stuck client's worker (one)
    for v in victims:
        v.welcome()
    stuck = RawWS(server, rcvbuf=4096)  # a tiny window: the server's writes back up at once
    stuck.sock.setblocking(False)
    ask = stuck.frame(0x1, json.dumps({"type": "ask", "id": "s", "text": "what are biologics"}
                                      ).encode())
    sent = 0
    deadline = time.monotonic() + 5
    while sent < 3000 and time.monotonic() < deadline:
        try:
            stuck.sock.send(ask)
            sent += 1
        except BlockingIOError:
            time.sleep(0.01)
    time.sleep(1.0)
    queued = server_socket_queue(server.port, stuck.local_port)
    assert queued is not None and queued[0] > 0, "the server is not backed up on the stuck client"
    question = dev_questions()[0]
    for i, v in enumerate(victims):
        v.sock.settimeout(5)
        assert_engine_reply(v.ask(question, f"v{i}"), bot, question, f"v{i}")
    stuck.reset()


def test_a_client_that_stops_mid_frame_does_not_block_others(fault_servers, bot):
    server = fault_servers["default"]
    stalled = []
    for _ in range(6):  # the test servers' one worker holds them all
        ws = RawWS(server)
        ws.welcome()
        frame = ws.frame(0x1, json.dumps({"type": "ask", "id": "m", "text": "what are biologics"}
                                         ).encode())
        ws.sock.sendall(frame[:len(frame) // 2])
        stalled.append(ws)
    fresh = [RawWS(server, timeout=5) for _ in range(4)]
    question = dev_questions()[1]
    for i, ws in enumerate(fresh):
        ws.welcome()
        assert_engine_reply(ws.ask(question, f"f{i}"), bot, question, f"f{i}")
    for ws in stalled + fresh:
        ws.close()


def test_idle_and_stalled_connections_are_closed_after_the_timeout(fault_servers):
    server = fault_servers["idle"]
    idle = RawWS(server)
    idle.welcome()
    stalled = RawWS(server)  # half a frame, then silence: the same timeout applies
    stalled.welcome()
    stalled.sock.sendall(stalled.frame(0x1, b'{"type": "ask", "text": "hi"}')[:5])
    busy = RawWS(server)
    busy.welcome()
    opened = time.monotonic()
    results: dict[str, float] = {}

    def watch(name: str, ws: RawWS) -> None:
        ws.expect_closed(within=8)
        results[name] = time.monotonic() - opened
        results[name + "_code"] = ws.close_code or 0

    threads = [threading.Thread(target=watch, args=a) for a in (("idle", idle),
                                                                ("stalled", stalled))]
    for t in threads:
        t.start()
    # A patient who keeps typing (every 0.7 s, past the 2 s timeout) is never cut off.
    for i in range(6):
        reply = busy.ask("what are biologics", f"b{i}")
        assert reply["type"] == "reply"
        time.sleep(0.7)
    for t in threads:
        t.join(timeout=10)
    assert 1.5 <= results["idle"] <= 6, results
    assert 1.5 <= results["stalled"] <= 6, results
    assert results["idle_code"] == 1000
    busy.close()


# --- a worker killed mid-conversation ----------------------------------------------------------

def worker_holding(server, client_port: int) -> int:
    """The gunicorn worker whose file descriptors include this client's server-side socket."""
    _, inode = server_socket_queue(server.port, client_port)
    target = f"socket:[{inode}]"
    for pid in gunicorn_pids(server)[1]:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    raise LookupError("no worker holds the connection")


def test_a_worker_killed_mid_conversation_is_replaced_and_the_next_connection_served(
        fault_servers, bot):
    server = fault_servers["killed"]
    master, workers = gunicorn_pids(server)
    ws = RawWS(server)
    ws.welcome()
    assert ws.ask("tell me about dupixent", "1")["type"] == "reply"
    victim = worker_holding(server, ws.local_port)
    os.kill(victim, signal.SIGKILL)
    ws.expect_closed(within=5)  # the patient's widget sees the drop and reconnects
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now_master, now_workers = gunicorn_pids(server)
        if len(now_workers) == len(workers) and victim not in now_workers:
            break
        time.sleep(0.1)
    assert now_master == master and victim not in now_workers
    assert len(now_workers) == len(workers), "gunicorn did not replace the killed worker"
    for _ in range(4):  # whichever worker takes them, reconnections are served
        again = RawWS(server, timeout=10)
        again.welcome()
        question = "what are the side effects of dupixent"
        assert_engine_reply(again.ask(question, "2"), bot, question, "2")
        again.close()


# --- expensive input ---------------------------------------------------------------------------

def test_a_long_made_up_word_does_not_stall_other_patients(fault_servers, bot):
    """Anything within the 500-character limit is cheap to answer: one patient (or attacker)
    sending long unknown words must not freeze the worker every other patient shares."""
    server = fault_servers["default"]
    victims = [RawWS(server, timeout=5) for _ in range(4)]
    for v in victims:
        v.welcome()
    rng = random.Random(7)
    attackers = []
    for _ in range(6):
        a = RawWS(server)
        a.welcome()
        for _ in range(3):
            word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(490))
            a.send_text(json.dumps({"type": "ask", "id": "w", "text": word}))
        attackers.append(a)
    time.sleep(0.2)
    question = dev_questions()[2]
    for i, v in enumerate(victims):
        assert_engine_reply(v.ask(question, f"v{i}"), bot, question, f"v{i}")
    for a in attackers:
        a.reset()


def server_rss_mb(server) -> float:
    master, workers = gunicorn_pids(server)
    total = 0
    for pid in (master, *workers):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def test_a_flooding_client_that_never_reads_cannot_exhaust_server_memory(fault_servers):
    """A client that sends as fast as it can and never reads its replies: once the server's
    replies back up, its messages must stop piling up in memory (dropped or cut off), or
    one attacker could take the server down for every patient."""
    server = fault_servers["default"]
    before = server_rss_mb(server)
    ws = RawWS(server, rcvbuf=4096)
    frame = ws.frame(0x1, json.dumps({"type": "ask", "id": "x", "text": "what are biologics",
                                      "pad": "p" * 3800}).encode())
    ws.sock.settimeout(0.5)
    # Up to 8 s of flooding, over once the server has taken no byte for 3 s (it stopped
    # reading, which takes about 2 s; a server still reading, however slowly, gets all 8 s).
    burst, pending, sent = frame * 16, b"", 0
    started = last_taken = time.monotonic()
    while time.monotonic() < started + 8 and time.monotonic() < last_taken + 3:
        pending = pending or burst  # whole frames: a part sent is finished before the next
        try:
            n = ws.sock.send(pending)
        except socket.timeout:
            continue
        except OSError:  # cut off by the server: the defence worked
            break
        pending, sent, last_taken = pending[n:], sent + n, time.monotonic()
    sent_mb = sent / 2**20
    time.sleep(0.5)
    growth = server_rss_mb(server) - before
    assert growth < 100, f"server memory grew {growth:.0f} MiB after {sent_mb:.0f} MiB unread"


def log_events(server) -> list[dict]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def test_a_client_that_stops_reading_is_dropped_after_the_send_timeout(fault_servers, bot):
    server = fault_servers["send_timeout"]
    stuck = RawWS(server, rcvbuf=4096)
    stuck.welcome()
    stuck.sock.setblocking(False)
    ask = stuck.frame(0x1, json.dumps({"type": "ask", "id": "s", "text": "what are biologics"}
                                      ).encode())
    backed_up_at = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the server's replies back up (and then its reads)
        try:
            stuck.sock.send(ask)
        except BlockingIOError:
            queued = server_socket_queue(server.port, stuck.local_port)
            if queued and queued[0] > 0:
                backed_up_at = time.monotonic()
                break
            time.sleep(0.01)
    assert backed_up_at is not None, "the server never backed up on the stuck client"
    # Dropped for the send timeout (2 s here), long before anything else would close it (the
    # idle timeout is minutes): the log names the reason, and the wait allows the backlog
    # time to reach the server's limit on a busy machine (6.0 s was seen under CI's load).
    dropped = False
    while not dropped and time.monotonic() < backed_up_at + 15:
        dropped = any(e["event"] == "disconnect" and e["reason"] == "send_timeout"
                      for e in log_events(server))
        time.sleep(0.1)
    assert dropped, f"not dropped:\n{server.log()[-2000:]}"
    question = dev_questions()[0]
    fresh = RawWS(server, timeout=5)
    fresh.welcome()
    assert_engine_reply(fresh.ask(question, "after"), bot, question, "after")


def test_a_client_that_sends_many_questions_before_reading_gets_every_answer(fault_servers):
    """The server stops reading a connection while it is behind (MAX_PENDING messages), but a
    client that does read gets every reply, in order: pausing loses nothing."""
    server = fault_servers["unlimited"]
    ws = RawWS(server)
    ws.welcome()
    questions = dev_questions()
    sent = [json.dumps({"type": "ask", "id": f"p{i}", "text": questions[i % len(questions)]})
            for i in range(60)]
    ws.sock.sendall(b"".join(ws.frame(0x1, s.encode()) for s in sent))
    ids = [ws.recv_json()["id"] for _ in sent]
    assert ids == [f"p{i}" for i in range(60)]
