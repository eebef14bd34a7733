"""The parts of an answer that answer the question are marked, without changing a word."""
from __future__ import annotations

import pytest

from chatbot.core.highlight import parts


def marked(bot, question: str) -> tuple[dict, list[str]]:
    reply, _ = bot.reply(question, {})
    return reply, [reply["text"][a:b] for a, b in reply["highlights"]]


@pytest.mark.parametrize("question, part", [
    ("does rinvoq cause acne", "• acne"),
    ("dupixent pink eye", "• conjunctivitis (pink eye)"),
])
def test_the_bullet_that_answers_is_marked(bot, question, part):
    reply, spans = marked(bot, question)
    assert reply["kind"] == "answer" and spans == [part]


def test_a_sentence_of_a_paragraph_is_marked(bot):
    reply, spans = marked(bot, "is methotrexate bad for the liver")
    assert len(spans) == 1 and "liver" in spans[0] and spans[0] != reply["text"]


def test_nothing_is_marked_when_the_whole_passage_answers_or_there_is_no_answer(bot):
    assert marked(bot, "what is the weather today")[0]["highlights"] == []
    assert marked(bot, "i want to kill myself")[0]["highlights"] == []


def test_parts_cover_sentences_and_bullets_without_white_space():
    text = "Methotrexate can cause:\n• hair loss\n• acne\n\nIt is taken weekly. Labs are needed!"
    got = [text[a:b] for a, b in parts(text)]
    assert got == ["Methotrexate can cause:", "• hair loss", "• acne", "It is taken weekly.",
                   "Labs are needed!"]


def test_answers_link_to_their_section_of_the_article(bot):
    reply, _ = bot.reply("does rinvoq cause acne", {})
    assert reply["source"]["url"] == ("/article/systemic-immunomodulators-eczema"
                                      "#what-are-the-side-effects-of-biologics-and-jak-inhibitors")


def test_a_prepared_bot_keeps_article_text_only_and_no_more_of_it_as_patients_ask(settings):
    from chatbot.core.corpus import reply_text
    from chatbot.core.dialogue import Bot

    bot = Bot(settings).prepare()
    kept_parts, kept_about = dict(bot.highlighter._parts), dict(bot._about)
    kept_named = dict(bot._named_in)
    assert len(kept_parts) == len(bot.passages) and kept_about
    assert set(kept_named) == set(bot.section_by_id)
    article = {reply_text(p, bot.lead_ins) for p in bot.passages}
    for question in ["does rinvoq cause acne", "how much does dupixent cost",
                     "rinvoq or dupixent which is cheaper", "my secret question about zzxq"]:
        bot.reply(question, {})
    state = bot.reply("what are jak inhibitors", {})[1]
    bot.reply("the second one you named, is it a pill", state)
    # what was asked left nothing behind (and so cannot be told from how fast a reply is)
    assert bot.highlighter._parts == kept_parts and set(kept_parts) == article
    assert bot._about == kept_about and bot._named_in == kept_named
