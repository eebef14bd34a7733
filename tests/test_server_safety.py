"""Safety before every limit, through the Procfile's server: a message that a length or rate
limit would turn away is read for risk first, and a person at risk gets a reply (graded as any
other: the crisis or emergency reply where the risk is sure, else the answer with the notice)."""
from __future__ import annotations

import json

from test_server import ask, ask_once, connect, rest_ask

STORY = ("I have had eczema since I was a child and tried every cream my dermatologist gave me. "
         "Methotrexate helped for a while but my liver numbers went up, so we stopped it. ")


def test_a_long_message_in_crisis_gets_the_crisis_reply_not_text_too_long(server):
    text = (STORY + "None of it matters now. I have saved up my pills and I am going to take all of "
            "them tonight after everyone is asleep. I already wrote letters to my kids and my "
            "sister. " + STORY * 2)
    assert len(text) > 500
    reply = ask_once(server, text)
    assert reply["type"] == "reply" and reply["kind"] == "crisis" and reply["id"] == "q"
    assert [x["href"] for x in reply["safety"]["links"]] == ["tel:988", "sms:988"]


def test_a_long_story_with_a_doubtful_risk_is_answered_with_the_notice_first(server):
    """Graded as any other message: not the crisis reply for a story with one dark line in
    it, and not `text_too_long` either, since the notice must reach whoever wrote it."""
    text = (STORY * 3 + "I am so tired of all of this, I don't know how much longer I can keep "
            "going. " + STORY * 2 + "Would methotrexate help with the itching?")
    reply = ask_once(server, text)
    assert len(text) > 500 and reply["type"] == "reply"
    assert reply["kind"] not in ("crisis", "emergency") and reply["safety"]["level"] == "crisis"


def test_a_long_ordinary_message_is_still_refused_as_too_long(server):
    reply = ask_once(server, STORY * 6 + "Is dupixent safe for me?")
    assert reply["type"] == "error" and reply["code"] == "text_too_long"


def test_a_frame_over_the_size_limit_that_carries_an_emergency_gets_the_emergency_reply(server):
    ws, _ = connect(server)
    try:
        text = STORY * 40 + "Right now my throat is closing and I can't breathe after my shot."
        ws.send(json.dumps({"type": "ask", "id": "big", "text": text}))
        reply = json.loads(ws.receive(timeout=5))
        assert reply["type"] == "reply" and reply["id"] == "big"  # graded: the notice at least
        assert reply["safety"]["level"] == "emergency"
        ws.send(json.dumps({"type": "ask", "id": "big2", "text": STORY * 40}))
        refused = json.loads(ws.receive(timeout=5))
        assert refused["type"] == "error" and refused["code"] == "message_too_large"
    finally:
        ws.close()


def test_a_rate_limited_person_in_crisis_still_gets_the_crisis_reply(server):
    ws, _ = connect(server)
    try:
        for i in range(20):
            ws.send(json.dumps({"type": "ask", "id": f"r{i}", "text": "what are biologics"}))
        for _ in range(20):
            ws.receive(timeout=5)
        limited = ask(ws, "what are biologics", "r20")
        crisis = ask(ws, "i want to kill myself", "r21")
    finally:
        ws.close()
    assert limited["type"] == "error" and limited["code"] == "rate_limited"
    assert crisis["type"] == "reply" and crisis["kind"] == "crisis" and crisis["id"] == "r21"


def test_rest_checks_a_long_message_for_risk_before_its_length(server):
    status, _, body = rest_ask(server, {"text": STORY * 6 + "i want to die tonight"})
    assert status == 200 and body["safety"]["level"] == "crisis"
    status, _, body = rest_ask(server, {"text": STORY * 6})
    assert status == 400 and body["code"] == "text_too_long"

