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
