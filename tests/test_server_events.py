"""The structured log (chatbot/server/events.py): every line is the JSON that json.dumps writes."""
import io
import json

import pytest

from chatbot.server.events import EventLog, json_line


@pytest.mark.parametrize("value", [
    "what is dupixent", "café", "pink eye 👁", "\ud800 lone surrogate", 'quote " back\\slash\n',
    "", 0, -3, 10**30, 0.93, 1e-7, float("nan"), float("inf"), True, False, None,
    {"methotrexate": 2, "nested": {"a": [1, "b"]}}, [1, 2.5, "x"], ("a", 1),
    ValueError("not JSON-serialisable: logged with str()"),
])
def test_a_field_is_written_as_json_dumps_writes_it(value):
    record = {"ts": 1.5, "event": "reply", "field": value}
    assert json_line(record) == json.dumps(record, default=str)


def test_each_event_is_one_ascii_json_line_without_the_question_by_default():
    stream = io.StringIO()
    log = EventLog(stream=stream)
    log.emit("reply", question="can I take methotrexate pregnant", channel="ws", kind="answer",
             confidence=1.0, chars=32, latency_ms=0.02)
    log.emit("disconnect", reason="client_closed", errors={"empty_text": 2})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(line.isascii() for line in lines)
    first, second = map(json.loads, lines)
    assert "question" not in first and first["kind"] == "answer" and first["chars"] == 32
    assert second["errors"] == {"empty_text": 2}


def test_a_reply_line_is_the_line_emit_writes():
    fast, slow = io.StringIO(), io.StringIO()
    fast_log, slow_log = EventLog(stream=fast), EventLog(stream=slow)
    for confidence in (1.0, 0.603, 0.0, None, float("nan")):
        for latency in (0.0, 12.34, 1e-7):
            fast_log.reply("ws", "answer", confidence, 32, latency, question="q")
            slow_log.emit("reply", question="q", channel="ws", kind="answer",
                          confidence=confidence, chars=32, latency_ms=latency)
    fast_log.flush()
    without_ts = [[line.split(",", 1)[1] for line in s.getvalue().splitlines()]
                  for s in (fast, slow)]
    assert without_ts[0] == without_ts[1] and len(without_ts[0]) == 15


def test_reply_lines_wait_at_most_a_moment_and_other_events_write_them_first():
    import time
    from chatbot.server.events import BATCH_SECONDS

    stream = io.StringIO()
    log = EventLog(stream=stream)
    log.reply("ws", "answer", 1.0, 10, 0.5)
    log.reply("ws", "no_answer", 0.2, 11, 0.5)
    assert stream.getvalue() == ""  # batched...
    deadline = time.monotonic() + BATCH_SECONDS + 2
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [json.loads(line)["kind"] for line in stream.getvalue().splitlines()] == \
        ["answer", "no_answer"]  # ...and written within the batch time
    log.reply("ws", "answer", 1.0, 12, 0.5)
    log.emit("disconnect", reason="client_closed")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()][-2:] == \
        ["reply", "disconnect"]


def test_log_questions_writes_the_question_in_reply_lines():
    stream = io.StringIO()
    EventLog(True, stream).reply("rest", "answer", 1.0, 5, 0.1, question="pink eye")
    assert json.loads(stream.getvalue())["question"] == "pink eye"



# ---- hostile load (issue 14): clipped strings and summarised repeats -------------------------

class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines_of(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_8_kb_origin_is_logged_clipped_with_its_length():
    from chatbot.server.events import CLIP_CHARS

    stream = io.StringIO()
    origin = "https://" + "a" * (8192 - len("https://"))
    EventLog(stream=stream).emit("refused_origin", origin=origin, path="/ws")
    assert len(stream.getvalue()) < 2 * CLIP_CHARS + 200  # not 8 KB
    (record,) = lines_of(stream)
    assert record["origin"] == origin[:CLIP_CHARS] + "…(8192 chars)"
    assert record["path"] == "/ws"  # short strings untouched


def test_every_string_a_caller_passes_is_clipped_but_our_traceback_is_not():
    from chatbot.server.events import CLIP_CHARS

    stream = io.StringIO()
    log = EventLog(stream=stream)
    ua = "Mozilla/5.0 " + "x" * 5000
    log.emit("disconnect", reason="client_closed", headers={"user-agent": ua, "n": [ua, 3]},
             thing=ValueError("y" * 3000))  # not JSON: written as str(), so clipped too

    def deep(n):
        if n == 0:
            raise RuntimeError("the message is not logged")
        deep(n - 1)

    try:
        deep(30)
    except RuntimeError as exc:
        log.failure("internal_error", exc, path="/" + "p" * 1000)
    first, second = lines_of(stream)
    clipped_ua = ua[:CLIP_CHARS] + f"…({len(ua)} chars)"
    assert first["headers"] == {"user-agent": clipped_ua, "n": [clipped_ua, 3]}
    assert first["thing"] == "y" * CLIP_CHARS + "…(3000 chars)"
    assert second["path"] == "/" + "p" * (CLIP_CHARS - 1) + "…(1001 chars)"
    traceback = second["traceback"]  # ours: stack frames, not the message; never cut
    assert len(traceback) > 2 * CLIP_CHARS and "…(" not in traceback
    assert traceback.endswith('raise RuntimeError("the message is not logged")\n')


def test_a_logged_question_keeps_its_real_length_but_not_more():
    stream = io.StringIO()
    log = EventLog(True, stream)
    log.reply("ws", "answer", 1.0, 2000, 0.1, question="q" * 2000)  # MAX_TEXT_CHARS
    log.reply("ws", "error", 0.0, 20000, 0.1, question="z" * 20000)
    ok, long = lines_of(stream)
    assert ok["question"] == "q" * 2000
    assert long["question"] == "z" * 4000 + "…(20000 chars)"


def test_1000_refused_origins_in_a_window_are_five_lines_and_one_summary():
    from chatbot.server.events import SUMMARY_AFTER, SUMMARY_WINDOW

    stream, clock = io.StringIO(), FakeClock()
    log = EventLog(stream=stream, clock=clock)
    for i in range(1000):  # a different Origin every time: still one key
        log.emit("refused_origin", origin=f"https://evil-{i}.example", path="/ws")
        clock.now += (SUMMARY_WINDOW - 1) / 1000
    assert len(lines_of(stream)) <= SUMMARY_AFTER + 1
    assert [r["origin"] for r in lines_of(stream)] == \
        [f"https://evil-{i}.example" for i in range(SUMMARY_AFTER)]  # the first ones, whole
    clock.now += 2  # the window has ended: the next one writes the summary first
    log.emit("refused_origin", origin="https://late.example", path="/api/ask")
    records = lines_of(stream)
    assert len(records) == SUMMARY_AFTER + 2
    summary, late = records[-2:]
    assert {k: v for k, v in summary.items() if k != "ts"} == {
        "event": "refused_origin", "repeated": 1000 - SUMMARY_AFTER, "window_s": SUMMARY_WINDOW}
    assert late["origin"] == "https://late.example"  # a new window: written again


def test_distinct_codes_are_summarised_separately_on_flush():
    stream, clock = io.StringIO(), FakeClock()
    log = EventLog(stream=stream, clock=clock, summary_after=3, summary_window=60)
    for _ in range(50):
        log.emit("error", code="invalid_json", channel="rest")
        log.emit("error", code="text_too_long", channel="rest")
    log.emit("error", code="empty_text", channel="rest")
    assert len(lines_of(stream)) == 3 + 3 + 1
    log.flush()
    summaries = [r for r in lines_of(stream) if "repeated" in r]
    assert sorted((r["code"], r["channel"], r["repeated"], r["window_s"]) for r in summaries) == [
        ("invalid_json", "rest", 47, 60), ("text_too_long", "rest", 47, 60)]
    # the window goes on after a flush: repeats are still counted, not written
    log.emit("error", code="invalid_json", channel="rest")
    assert len(lines_of(stream)) == 9
    log.flush()
    assert lines_of(stream)[-1]["repeated"] == 1 and len(lines_of(stream)) == 10
    log.flush()  # nothing more to say
    assert len(lines_of(stream)) == 10


def test_per_connection_and_per_message_events_are_never_summarised():
    stream, clock = io.StringIO(), FakeClock()
    log = EventLog(stream=stream, clock=clock, summary_after=2)
    for _ in range(20):
        log.emit("connect")
        log.reply("ws", "answer", 1.0, 10, 0.5)
        log.emit("disconnect", reason="client_closed", messages=1, errors={})
    log.flush()
    events = [r["event"] for r in lines_of(stream)]
    assert events.count("connect") == events.count("disconnect") == events.count("reply") == 20
    assert not any("repeated" in r for r in lines_of(stream))


def test_the_summary_table_stays_small_whatever_the_keys():
    from chatbot.server.events import MAX_SUMMARY_KEYS

    stream, clock = io.StringIO(), FakeClock()
    log = EventLog(stream=stream, clock=clock, summary_after=1)
    for i in range(5000):
        log.emit("error", code=f"code-{i}", channel="rest")
    assert len(log._windows) <= MAX_SUMMARY_KEYS + 1
    assert len(lines_of(stream)) <= MAX_SUMMARY_KEYS + 1  # the rest share one key per event
    log.flush()
    assert sum(r.get("repeated", 0) for r in lines_of(stream)) == \
        5000 - sum(1 for r in lines_of(stream) if "repeated" not in r)
    clock.now += 61
    log.emit("error", code="later", channel="rest")  # ended windows are forgotten
    assert len(log._windows) == 1


def test_the_reply_batch_timer_does_not_end_a_summary_window():
    """Replies are flushed every BATCH_SECONDS; summaries wait for their window or flush()."""
    import time
    from chatbot.server.events import BATCH_SECONDS

    stream, clock = io.StringIO(), FakeClock()
    log = EventLog(stream=stream, clock=clock, summary_after=2)
    for _ in range(10):
        log.emit("refused_origin", origin="https://evil.example", path="/ws")
    log.reply("ws", "answer", 1.0, 10, 0.5)
    deadline = time.monotonic() + BATCH_SECONDS + 2
    while '"reply"' not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r["event"] for r in lines_of(stream)] == ["refused_origin"] * 2 + ["reply"]
    log.flush()
    assert lines_of(stream)[-1]["repeated"] == 8
