"""Safety before every limit, through the Procfile's server: a message that a length or rate
limit would turn away is read for risk first, and a person at risk gets a reply (graded as any
other: the crisis or emergency reply where the risk is sure, else the answer with the notice)."""
from __future__ import annotations

import json

import pytest
from conftest import retire, start_server
from test_server import ask, ask_once, connect, rest_ask

STORY = ("I have had eczema since I was a child and tried every cream my dermatologist gave me. "
         "Methotrexate helped for a while but my liver numbers went up, so we stopped it. ")


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """The Procfile server with the stricter limits an operator may set (questions of at most
    500 characters, frames of 4 KiB), so the stories below, 600 to 7,000 characters, are
    over them."""
    live = start_server(tmp_path_factory.mktemp("limited"),
                        env={"MAX_TEXT_CHARS": "500", "MAX_FRAME_BYTES": "4096"})
    yield live
    retire(live)


def test_the_welcome_tells_the_widget_the_limit_the_operator_set(limited):
    ws, welcome = connect(limited)
    ws.close()
    assert welcome["max_text_chars"] == 500


def test_a_long_message_in_crisis_gets_the_crisis_reply_not_text_too_long(limited):
    text = (STORY + "None of it matters now. I have saved up my pills and I am going to take all of "
            "them tonight after everyone is asleep. I already wrote letters to my kids and my "
            "sister. " + STORY * 2)
    assert len(text) > 500
    reply = ask_once(limited, text)
    assert reply["type"] == "reply" and reply["kind"] == "crisis" and reply["id"] == "q"
    assert [x["href"] for x in reply["safety"]["links"]] == ["tel:988", "sms:988"]


def test_a_long_story_with_a_doubtful_risk_is_answered_with_the_notice_first(limited):
    """Graded as any other message: not the crisis reply for a story with one dark line in
    it, and not `text_too_long` either, since the notice must reach whoever wrote it."""
    text = (STORY * 3 + "I am so tired of all of this, I don't know how much longer I can keep "
            "going. " + STORY * 2 + "Would methotrexate help with the itching?")
    reply = ask_once(limited, text)
    assert len(text) > 500 and reply["type"] == "reply"
    assert reply["kind"] not in ("crisis", "emergency") and reply["safety"]["level"] == "crisis"


def test_a_long_ordinary_message_is_still_refused_as_too_long(limited):
    reply = ask_once(limited, STORY * 6 + "Is dupixent safe for me?")
    assert reply["type"] == "error" and reply["code"] == "text_too_long"


def test_a_frame_over_the_size_limit_that_carries_an_emergency_gets_the_emergency_reply(limited):
    ws, _ = connect(limited)
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
        too_many = ask(ws, "what are biologics", "r20")
        crisis = ask(ws, "i want to kill myself", "r21")
    finally:
        ws.close()
    assert too_many["type"] == "error" and too_many["code"] == "rate_limited"
    assert crisis["type"] == "reply" and crisis["kind"] == "crisis" and crisis["id"] == "r21"


def test_rest_checks_a_long_message_for_risk_before_its_length(limited):
    status, _, body = rest_ask(limited, {"text": STORY * 6 + "i want to die tonight"})
    assert status == 200 and body["safety"]["level"] == "crisis"
    status, _, body = rest_ask(limited, {"text": STORY * 6})
    assert status == 400 and body["code"] == "text_too_long"


def test_a_story_told_before_the_question_is_answered_not_refused(server):
    """Patients tell their story first: a message of a thousand characters or more is read
    and answered like any other (MAX_TEXT_CHARS is 2,000), not refused as too long."""
    story = ("I'm 34 and I have had eczema since I was a baby. It was mostly on my hands and "
             "the backs of my knees until my second pregnancy, and since then it has spread to my "
             "neck and my eyelids. I work in a bakery so my hands are in water and flour all day "
             "and they crack and bleed by Friday. I've used the steroid creams for years, the "
             "strong ones on my body and the weak ones on my face, and my dermatologist says my "
             "skin is getting thin. I tried light therapy three times a week for a whole winter "
             "but I could not keep driving forty minutes each way with two kids at home. ")
    text = story * 2 + "Would one of the biologic injections be an option for someone like me?"
    reply = ask_once(server, text)
    assert len(text) > 1000 and reply["type"] == "reply" and reply["id"] == "q"
    assert reply["kind"] in ("answer", "no_answer") and reply["safety"] is None
