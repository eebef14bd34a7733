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
