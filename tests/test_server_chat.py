"""The chat protocol (chatbot/server/chat.py): cached reply frames are the JSON the
protocol documents, byte for byte, whatever the id."""
import io
import json

import pytest

from chatbot.server.chat import Conversation, ReplyFrame, ReplyFrames
from chatbot.server.events import EventLog


@pytest.mark.parametrize("msg_id", ["7", "c1-42", 42, -1, None, 'quote " in it', "back\\slash",
                                    "tab\there", "é", "\u2028", "", "\x7f"])
@pytest.mark.parametrize("question", ["can I take methotrexate pregnant", "hi", "I want to die",
                                      "who won the world cup"])
def test_a_frame_is_what_json_dumps_writes(bot, msg_id, question):
    reply, state = bot.reply(question, {})
    expected = json.dumps({"type": reply["type"], "id": msg_id, **reply, "context": state.context()})
    assert ReplyFrame(reply, state).text(msg_id) == expected
    rest = {**reply, "context": state.context(), **({"id": msg_id} if msg_id is not None else {})}
    assert json.loads(ReplyFrame(reply, state).rest_body(msg_id)) == rest


@pytest.fixture()
def conversation(bot, settings):
    stream = io.StringIO()
    frames = ReplyFrames(settings.reply_cache_size, bot)
    return Conversation(bot, settings, EventLog(False, stream), frames), stream


def ask(conversation, text, msg_id, context=None):
    frame = {"type": "ask", "id": msg_id, "text": text}
    if context is not None:
        frame["context"] = context
    return json.loads(conversation.handle(json.dumps(frame)))


def test_a_repeated_question_gets_the_same_reply_with_its_own_id(conversation, bot):
    chat, stream = conversation
    first = ask(chat, "what are biologics", "a")
    again = ask(chat, "what are biologics", "b")
    assert first["id"] == "a" and again["id"] == "b"
    assert {**first, "id": None} == {**again, "id": None}
    chat.log.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in lines] == ["reply", "reply"]  # the cached one is logged too
    assert "what are biologics" not in stream.getvalue()


def test_the_context_decides_which_cached_reply_is_sent(conversation):
    chat, _ = conversation
    about_mtx = ask(chat, "what are the side effects", "1", {"entity": "methotrexate"})
    about_pred = ask(chat, "what are the side effects", "2", {"entity": "prednisone"})
    assert "Methotrexate" in about_mtx["text"] and "prednisone" in about_pred["text"]
    assert about_mtx["context"]["entity"] == "methotrexate"
    # the connection carries the last reply's context on: prednisone's
    carried = ask(chat, "what are the side effects", "3")
    assert carried["context"]["entity"] == "prednisone"
    assert "prednisone" in carried["text"] and "Methotrexate" not in carried["text"]


def test_a_context_that_cannot_be_a_key_is_answered_without_the_cache(conversation):
    chat, _ = conversation
    odd = {"entity": ["methotrexate"], "topic": {"x": 1}}
    reply = ask(chat, "what are biologics", "1", odd)
    assert reply["kind"] == "answer"


def test_a_cache_of_size_0_keeps_nothing(bot, settings):
    chat = Conversation(bot, settings, EventLog(False, io.StringIO()), ReplyFrames(0, bot))
    assert ask(chat, bot.public_questions()[0], "1")["kind"] == "answer"
    assert not chat.frames._frames


def test_only_public_questions_are_cached_and_all_from_the_start(conversation, bot):
    """Another patient's question must not come back faster for having been asked: the
    cache holds the chips and the article's questions, filled before anyone chats."""
    chat, _ = conversation
    public = bot.public_questions()
    assert len(public) > 10 and set(chat.frames._frames) == set(public)
    ask(chat, "can I take methotrexate pregnant", "1")
    ask(chat, "can I take methotrexate pregnant", "2")
    assert set(chat.frames._frames) == set(public)


def test_a_cached_frame_is_the_reply_the_engine_computes(conversation, bot):
    from chatbot.config import Settings
    from chatbot.core import load_bot
    fresh = load_bot(Settings(reply_cache_size=0, cache_dir=None))
    chat, _ = conversation
    for text in bot.public_questions():
        assert chat.frames.get(text, bot.state(None)).text("x") \
            == ReplyFrame(*fresh.reply(text, None)).text("x")
    assert chat.frames.get(bot.public_questions()[0], bot.state({"entity": "methotrexate"})) is None


def test_a_chip_tapped_after_crisis_help_keeps_the_help_and_the_concern(conversation, bot):
    """A cached chip's reply is a new conversation's: after the crisis reply it is not sent
    from the cache, so the crisis notice stays on and the context keeps the concern."""
    chat, _ = conversation
    crisis = ask(chat, "i want to kill myself", "1")
    assert crisis["kind"] == "crisis" and crisis["context"]["concern"] == "crisis"
    chip = ask(chat, bot.public_questions()[0], "2")
    assert chip["kind"] == "answer" and chip["safety"]["level"] == "crisis"
    assert chip["context"]["concern"] == "crisis" and chip["context"]["concern_sure"] is True
    assert chat.frames.get(bot.public_questions()[0], bot.state(chip["context"])) is None
