"""The per-connection sliding window (chatbot/server/ratelimit.py), on a fake clock."""
from chatbot.server.ratelimit import SlidingWindow
from conftest import FakeClock


def test_allows_the_limit_then_refuses():
    window = SlidingWindow(3, 10, clock=FakeClock())
    assert [window.allow() for _ in range(5)] == [True, True, True, False, False]


def test_no_burst_across_a_window_boundary():
    """Fixed buckets would allow 2x the limit around a boundary; a sliding window does not."""
    clock = FakeClock()
    window = SlidingWindow(3, 10, clock=clock)
    clock.now = 1009.0
    assert [window.allow() for _ in range(3)] == [True, True, True]
    clock.now = 1011.0
    assert not window.allow()
    clock.now = 1019.0
    assert window.allow()


def test_refused_messages_do_not_extend_the_wait():
    clock = FakeClock()
    window = SlidingWindow(2, 10, clock=clock)
    window.allow(), window.allow()
    for step in range(9):
        clock.now = 1000.0 + step
        assert not window.allow()
    clock.now = 1010.0
    assert window.allow() and window.allow() and not window.allow()
