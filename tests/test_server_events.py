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

