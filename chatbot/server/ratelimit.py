"""A per-connection sliding-window rate limit.

A sliding window (rather than fixed buckets) means a client can never send more
than `limit` messages in any `seconds`-long stretch, not even across a bucket
boundary. Refused messages are not counted, so a client that floods is served
again as soon as its earlier messages age out.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Callable


class SlidingWindow:
    """Allows at most `limit` events in any window of `seconds`."""

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self.times: deque[float] = deque()

    def allow(self) -> bool:
        """Records an event and returns True, or returns False if it would exceed the limit."""
        now = self.clock()
        while self.times and now - self.times[0] >= self.seconds:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def retry_after(self) -> float:
        """Seconds until the oldest event leaves the window (0.0 when there is room now)."""
        if len(self.times) < self.limit:
            return 0.0
        return max(0.0, self.seconds - (self.clock() - self.times[0]))


class TokenBucket:
    """Allows a burst of `capacity` events, then `rate` a second: what a client may send
    across all its connections. A person typing, or a script asking one question after
    another, stays within the burst; a flood is slowed to `rate` a second."""

    __slots__ = ("capacity", "rate", "clock", "tokens", "updated")

    def __init__(self, capacity: int, rate: float, clock: Callable[[], float] = time.monotonic):
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self) -> float:
        """Takes one token and returns 0.0, or returns the seconds until one is free."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def full(self) -> bool:
        """True when the bucket has refilled: forgetting it would change nothing."""
        self._refill()
        return self.tokens >= self.capacity
