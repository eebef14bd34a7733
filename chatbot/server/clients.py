"""Per-client limits: no one client can take every slot or every reply of a worker.

A client is an address: the peer's, or the one a proxy listed in TRUSTED_PROXIES put in
X-Forwarded-For (anyone else's X-Forwarded-For is ignored: any client can send it). An
IPv6 client is its /64, the block one home or phone is given, so rotating addresses
within it buys nothing. For each client a worker process counts:

- chats open at once (websockets, and REST requests still being read or answered);
- chat messages across all its chats (a token bucket: a burst, then a steady rate);
- REST questions (another bucket);
- safety reads of refused messages (a refused message is still read for risk, see
  chat.rescue; this bounds what that costs under a flood).

Limits are per worker: each gunicorn worker keeps its own counts, and the proxy's limits
(deploy/nginx.conf) hold across workers. Memory is bounded: a client with no open chat
whose buckets have refilled is forgotten, and at most MAX_CLIENTS are remembered.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Callable

from chatbot.config import IPNetwork, Settings
from chatbot.server.ratelimit import TokenBucket

# Clients remembered per worker before idle ones are forgotten early.
MAX_CLIENTS = 10_000
# Refused messages read for risk per client: a burst, then a steady rate (see chat.rescue).
RESCUE_BURST = 30
RESCUE_RATE = 2.0
# What a client refused for too many open chats is told to wait (seconds).
CHATS_RETRY_AFTER = 10


def client_address(environ: dict, trusted: tuple[IPNetwork, ...]) -> str:
    """The client a request comes from (see the module docstring), as a short key."""
    peer = _parse(environ.get("REMOTE_ADDR", ""))
    if peer is None:
        return environ.get("REMOTE_ADDR", "") or "unknown"
    if trusted and _trusted(peer, trusted):
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        for item in reversed(forwarded.split(",")[-32:]):
            hop = _parse(item.strip())
            if hop is None:
                break  # a malformed entry: nothing left of it can be believed
            peer = hop
            if not _trusted(hop, trusted):
                break
    return _key(peer)


def _parse(raw: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address, trusted: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def _key(address: IPv4Address | IPv6Address) -> str:
    if isinstance(address, IPv6Address) and not address.is_loopback:
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass
class Client:
    """What one client is using now."""
    messages: TokenBucket
    asks: TokenBucket
    rescues: TokenBucket
    chats: int = 0
    seen: float = field(default=0.0)

    def idle(self) -> bool:
        return self.chats == 0 and self.messages.full() and self.asks.full() \
            and self.rescues.full()


class Clients:
    """The clients of one worker process and what each is allowed now."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = MAX_CLIENTS):
        self.settings = settings
        self.clock = clock
        self.max_clients = max_clients
        self._clients: dict[str, Client] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._clients)

    def get(self, key: str) -> Client:
        """The client's counts, made when it is first seen."""
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if len(self._clients) >= self.max_clients:
                    self._forget_idle()
                s, clock = self.settings, self.clock
                client = Client(TokenBucket(s.client_messages, s.client_message_rate, clock),
                                TokenBucket(s.client_asks, s.client_ask_rate, clock),
                                TokenBucket(RESCUE_BURST, RESCUE_RATE, clock))
                self._clients[key] = client
            client.seen = self.clock()
            return client

    def open(self, key: str) -> Client | None:
        """Counts a chat (or REST request) opening; None when the client has too many open."""
        client = self.get(key)
        with self._lock:
            if client.chats >= self.settings.client_chats:
                return None
            client.chats += 1
            return client

    def close(self, key: str) -> None:
        """Counts a chat closing; a client left idle is forgotten."""
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                return
            client.chats = max(0, client.chats - 1)
            if client.idle():
                del self._clients[key]

    def _forget_idle(self) -> None:
        """Drops idle clients, and if none is idle the half seen longest ago without an
        open chat (their limits start afresh: the price of bounded memory under a crowd)."""
        for key in [k for k, c in self._clients.items() if c.idle()]:
            del self._clients[key]
        if len(self._clients) >= self.max_clients:
            quiet = sorted((c.seen, k) for k, c in self._clients.items() if c.chats == 0)
            for _, key in quiet[:max(1, len(quiet) // 2)]:
                del self._clients[key]
