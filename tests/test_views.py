"""Retrieval's views of labelled questions are kept between trainings, and only while
nothing they depend on has changed."""
from __future__ import annotations

import shutil
from pathlib import Path

from chatbot.views import SavedViews, views_key

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [("what are the side effects of methotrexate", ()),
             ("and for kids?", ("what is dupixent",)),
             ("is it safe for him", ("my son is 9", "could he take rinvoq"))]


def test_kept_views_are_the_views_themselves(bot, tmp_path):
    fresh = SavedViews(bot.question_view, tmp_path, "k")
    first = [fresh(text, before) for text, before in QUESTIONS]
    assert fresh.read == len(QUESTIONS)
    fresh.save()
    again = SavedViews(lambda *_: None, tmp_path, "k")  # nothing may be worked out again
    assert [again(text, before) for text, before in QUESTIONS] == first
    assert again.read == 0


def test_only_the_views_asked_for_are_kept_under_the_newest_key(bot, tmp_path):
    old = SavedViews(bot.question_view, tmp_path, "old")
    old(*QUESTIONS[0])
    old.save()
    new = SavedViews(bot.question_view, tmp_path, "new")
    new(*QUESTIONS[1])
    new.save()
    assert [p.name for p in tmp_path.iterdir()] == ["views-new.json"]
    assert SavedViews(lambda *_: None, tmp_path, "new")(*QUESTIONS[0]) is None  # not kept


def test_an_unreadable_cache_is_read_afresh_and_none_keeps_nothing(bot, tmp_path):
    (tmp_path / "views-k.json").write_text("{not json")
    views = SavedViews(bot.question_view, tmp_path, "k")
    assert views(*QUESTIONS[0]) == bot.question_view(*QUESTIONS[0]) and views.read == 1
    views.save()
    assert SavedViews(lambda *_: None, tmp_path, "k")(*QUESTIONS[0]) is not None
    off = SavedViews(bot.question_view, None, "k")
    off(*QUESTIONS[0])
    off.save()  # no cache folder: nothing written, no error


def test_the_key_follows_the_article_and_lexicon_not_the_examples(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.npz"))
    before = views_key(corpus, 0.5)
    (corpus / "examples" / "new_questions.jsonl").write_text('{"id": "x"}\n')
    assert views_key(corpus, 0.5) == before
    assert views_key(corpus, 0.45) != before  # the answer bar is part of every view
    with open(corpus / "lexicon.txt", "a", encoding="utf-8") as f:
        f.write("\n")
    assert views_key(corpus, 0.5) != before
