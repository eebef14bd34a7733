"""Per-client limits (chatbot/server/clients.py): one client cannot take every slot, every
reply or every request of a worker, and a flood costs what it is allowed to cost.

The live tests run one Procfile server with small limits and TRUSTED_PROXIES=127.0.0.1, so
each test plays different clients by the X-Forwarded-For a trusted proxy would send. Each
gunicorn worker counts for itself (nginx counts across them), so with the Procfile's two
workers a client gets at most twice each limit.
"""
from __future__ import annotations

import io
import json
import socket
import time
import urllib.request
from ipaddress import ip_network

import pytest
from simple_websocket import ConnectionError as WsRefused

from chatbot.config import Settings
from chatbot.server.chat import Conversation, ReplyFrames
from chatbot.server.clients import Clients, client_address
from chatbot.server.events import EventLog
from chatbot.server.ratelimit import TokenBucket
from conftest import ChatClient, FakeClock, start_server

WORKERS = 2
LIMITS = {"TRUSTED_PROXIES": "127.0.0.1", "CLIENT_CHATS": "3", "CLIENT_MESSAGES": "10",
          "CLIENT_MESSAGE_RATE": "1", "CLIENT_ASKS": "5", "CLIENT_ASK_RATE": "1",
          "BODY_TIMEOUT": "1"}


# ---- the parts ---------------------------------------------------------------------------

def test_a_bucket_allows_a_burst_then_a_rate():
    clock = FakeClock()
    bucket = TokenBucket(3, 2.0, clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take() == 0.0 and bucket.take() > 0
    clock.now += 10
    assert bucket.full()


TRUSTED = (ip_network("127.0.0.1/32"), ip_network("10.0.0.0/8"))


@pytest.mark.parametrize("peer, forwarded, trusted, expected", [
    ("203.0.113.5", "", TRUSTED, "203.0.113.5"),
    ("203.0.113.5", "198.51.100.7", TRUSTED, "203.0.113.5"),  # not a proxy: header ignored
    ("203.0.113.5", "198.51.100.7", (), "203.0.113.5"),
    ("127.0.0.1", "198.51.100.7", TRUSTED, "198.51.100.7"),
    ("127.0.0.1", "1.2.3.4, 198.51.100.7", TRUSTED, "198.51.100.7"),  # the client can't add one
    ("127.0.0.1", "198.51.100.7, 10.1.2.3", TRUSTED, "198.51.100.7"),  # two proxies
    ("127.0.0.1", "junk, 10.1.2.3", TRUSTED, "10.1.2.3"),
    ("127.0.0.1", "", TRUSTED, "127.0.0.1"),
    ("127.0.0.1", "198.51.100.7", (), "127.0.0.1"),
    ("2001:db8:1:2:aaaa::1", "", (), "2001:db8:1:2::/64"),  # a home's /64 is one client
    ("::ffff:203.0.113.5", "", (), "203.0.113.5"),
])
def test_the_client_address(peer, forwarded, trusted, expected):
    environ = {"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_address(environ, trusted) == expected


def test_open_chats_are_counted_and_an_idle_client_forgotten():
    clock = FakeClock()
    clients = Clients(Settings(client_chats=2), clock)
    assert clients.open("a") and clients.open("a") and clients.open("a") is None
    assert clients.open("b")
    clients.close("a"), clients.close("a"), clients.close("b")
    assert len(clients) == 0  # nothing used: nothing kept


def test_memory_is_bounded_by_max_clients():
    clock = FakeClock()
    clients = Clients(Settings(), clock, max_clients=100)
    for n in range(1000):
        clients.get(f"10.0.{n // 256}.{n % 256}").messages.take()  # each leaves a trace
        clock.now += 0.001
    assert len(clients) <= 100


def test_a_flood_of_refused_messages_is_read_for_risk_only_within_its_budget(bot):
    """Safety before every limit, at a bounded price: past the client's rescue budget a
    refused message is refused unread."""
    settings = Settings(rate_limit_messages=1, rate_limit_seconds=60)
    client = Clients(settings).get("203.0.113.5")
    chat = Conversation(bot, settings, EventLog(False, io.StringIO()), ReplyFrames(0), client)
    frames = [json.loads(chat.handle(json.dumps({"type": "ask", "id": str(n),
                                                 "text": "I want to kill myself"})))
              for n in range(60)]
    kinds = [f.get("kind") or f.get("code") for f in frames]
    assert kinds[0] == "crisis"  # within the limit
    rescued = [k for k in kinds[1:] if k == "crisis"]
    refused = [f for f in frames[1:] if f.get("code") == "rate_limited"]
    assert 20 <= len(rescued) <= 35 and len(refused) >= 20
    assert all(f["retry_after"] >= 1 for f in refused)


# ---- the live server ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("clients"), env={**LIMITS, "WEB_CONCURRENCY": str(WORKERS)})
    yield live
    live.stop()


def as_client(address: str, server) -> dict:
    """Headers of the server's own page as a browser at `address` behind the proxy sends them."""
    return {"X-Forwarded-For": address, "Origin": server.origin}


def healthz_seconds(server) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as resp:
        assert resp.status == 200
    return time.monotonic() - started


def raw_request(server, data: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Sends raw bytes and returns the status and the body of the response."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                length = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")]
                if length and len(body) >= int(length[0].split(b":")[1]):
                    break
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_one_client_cannot_take_every_chat_slot(limited):
    held, refused = [], []
    for _ in range(12):
        try:
            held.append(ChatClient.connect(limited.ws_url, headers=as_client("203.0.113.10", limited)))
        except WsRefused as exc:
            refused.append(exc.status_code)
    try:
        assert len(held) <= 3 * WORKERS and refused and set(refused) == {429}
        assert healthz_seconds(limited) < 3
        other = ChatClient.connect(limited.ws_url, headers=as_client("198.51.100.20", limited))
        assert json.loads(other.receive(timeout=3))["type"] == "welcome"
        other.close()
    finally:
        for ws in held:
            ws.close()


def test_messages_are_limited_across_all_of_a_clients_chats(limited):
    chats = [ChatClient.connect(limited.ws_url, headers=as_client("203.0.113.11", limited))
             for _ in range(2)]
    replies = []
    for ws in chats:
        ws.receive(timeout=3)  # welcome
    for n in range(20):
        for ws in chats:
            ws.send(json.dumps({"type": "ask", "id": str(n), "text": "what are biologics"}))
            replies.append(json.loads(ws.receive(timeout=5)))
    for ws in chats:
        ws.close()
    answered = [r for r in replies if r["type"] == "reply"]
    limited_ = [r for r in replies if r.get("code") == "rate_limited"]
    assert len(answered) <= 10 * WORKERS + 10  # the bursts, and what refills while this runs
    assert len(limited_) >= 10 and all(r["retry_after"] >= 1 for r in limited_)


def test_rapid_rest_questions_meet_429_with_retry_after(limited):
    statuses, waits = [], []
    body = json.dumps({"text": "what are biologics"}).encode()
    for _ in range(300):
        req = urllib.request.Request(f"{limited.url}/api/ask", data=body, method="POST",
                                     headers={**as_client("203.0.113.12", limited),
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                statuses.append(resp.status)
        except urllib.error.HTTPError as err:
            statuses.append(err.code)
            waits.append(err.headers.get("Retry-After"))
            assert json.loads(err.read())["code"] == "rate_limited"
    assert statuses.count(429) >= 250 and set(statuses) <= {200, 429}
    assert all(w and w.isdigit() and int(w) >= 1 for w in waits)


def test_a_body_that_never_comes_is_given_up_on(limited):
    head = (b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.13\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50\r\n\r\n")
    started = time.monotonic()
    status, body = raw_request(limited, head)
    assert status == 408 and json.loads(body)["code"] == "request_timeout"
    assert time.monotonic() - started < 5


def test_body_less_requests_cannot_hold_every_slot(limited):
    head = (b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.14\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50\r\n\r\n")
    socks = []
    try:
        for _ in range(4 * WORKERS):
            sock = socket.create_connection(("127.0.0.1", limited.port), timeout=5)
            sock.sendall(head)
            socks.append(sock)
        status, _ = raw_request(limited, head, timeout=5)
        assert status in {408, 429}
        assert healthz_seconds(limited) < 3
    finally:
        for sock in socks:
            sock.close()


def test_a_malformed_chunked_body_is_400_and_an_oversize_one_413(limited):
    head = (b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.15\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, body = raw_request(limited, head + b"zz\r\n{}\r\n0\r\n\r\n")
    assert status == 400 and json.loads(body)["code"] == "invalid_body"
    big = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
    status, body = raw_request(limited, head.replace(b".15", b".16") + big * 3 + b"0\r\n\r\n")
    assert status == 413 and json.loads(body)["code"] == "message_too_large"
    assert "Traceback" not in limited.log()
