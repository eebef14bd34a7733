"""The learned ranker (chatbot/core/ranker.py): its candidates, its choice, and the weights
`chatbot train` keeps with the answer model."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from chatbot.core.answers import ANSWER_MODEL_FILE, AnswerModel, answer_examples
from chatbot.core.ranker import (CONTEXT_WORDS, FEATURES, FOLLOW_UP_FEATURES, Found, best,
                                  candidates)
from chatbot.training import train_answers
from live import ROOT

PROBS = {"a": 0.6, "b": 0.25, "c": 0.05, "d": 0.04, "no_answer": 0.05, "smalltalk": 0.01}


def test_candidates_are_retrievals_best_and_the_models_best_each_once():
    found = {"c": Found(1, 0.8, 10.0, True), "a": Found(2, 0.5, 6.0, True)}
    got = candidates(PROBS, found, bar=0.6, words=7)
    assert [s for s, _ in got] == ["c", "a", "b"]  # retrieval's order, then the model's top 3
    assert all(len(f) == len(FEATURES) for _, f in got)
    c = dict(got)["c"]
    assert c[FEATURES.index("retrieval_top")] == 1.0 and c[FEATURES.index("model_top")] == 0.0
    assert c[FEATURES.index("coverage_over_bar")] == pytest.approx(0.2)
    b = dict(got)["b"]  # the model's alone: retrieval did not find it
    assert b[FEATURES.index("coverage")] == 0.0 and b[FEATURES.index("inverse_rank")] < 0.2


def test_a_section_whose_passage_leaves_out_a_word_of_the_question_is_marked(bot):
    """`complete`: whether retrieval's best passage of a section leaves out no word of the
    question that its section uses: azathioprine's list has nausea, not vomiting (which
    methotrexate's has), so "vomiting" is a feature against it, learned, not a rule."""
    section = "what-are-the-side-effects-of-the-older-drugs"
    assert not bot.question_view("does azathioprine cause vomiting").found[section].complete
    assert bot.question_view("does azathioprine cause nausea").found[section].complete
    got = dict(candidates(PROBS, {"c": Found(1, 0.8, 10.0, True, False)}, bar=0.6, words=4))
    assert got["c"][FEATURES.index("complete")] == 0.0
    assert got["a"][FEATURES.index("complete")] == 0.0  # not found by retrieval at all


def test_a_follow_ups_candidates_include_the_section_answered_last():
    found = {"c": Found(1, 0.8, 10.0, True)}
    cues = (1.0, 0.0, 0.0)  # it names a medicine ("and for adbry?")
    got = dict(candidates(PROBS, found, bar=0.6, words=3, previous="d", follow_up=cues))
    assert set(got) == {"c", "a", "b", "d"}  # "d": neither retrieval's nor the model's best
    assert all(len(f) == len(FOLLOW_UP_FEATURES) for f in got.values())
    at = FOLLOW_UP_FEATURES.index
    assert [got[s][at("previous")] for s in ("c", "a", "b", "d")] == [0.0, 0.0, 0.0, 1.0]
    assert [got[s][at("previous_names_medicine")] for s in ("c", "d")] == [0.0, 1.0]
    assert all(got[s][at("names_medicine")] == 1.0 and got[s][at("names_nothing")] == 0.0
               for s in got)
    # no section answered yet: the same candidates as a first question, more features
    first = candidates(PROBS, found, bar=0.6, words=3, previous=None, follow_up=cues)
    assert [s for s, _ in first] == [s for s, _ in candidates(PROBS, found, bar=0.6, words=3)]


def test_a_follow_ups_candidates_include_its_reading_alone():
    """The model's reading of a follow-up alone ("His doctor brought up methotrexate. What
    side effects does it have?" after a story) is a candidate and a feature of each."""
    found = {"c": Found(1, 0.8, 10.0, True)}
    alone = {"a": 0.1, "b": 0.02, "c": 0.08, "d": 0.7, "no_answer": 0.09, "smalltalk": 0.01}
    got = dict(candidates(PROBS, found, bar=0.6, words=9, follow_up=(0.0, 0.0, 0.0),
                          alone=alone))
    assert set(got) == {"c", "a", "b", "d"}  # "d": only the reading alone's favourite
    at = FOLLOW_UP_FEATURES.index
    assert [got[s][at("p_alone")] for s in ("a", "d")] == [0.1, 0.7]
    assert [got[s][at("alone_top")] for s in ("a", "d")] == [0.0, 1.0]
    assert all(f[at("p_alone_no_answer")] == 0.09 for f in got.values())
    # without a reading alone (the follow-up is read as typed), its reading stands in
    same = dict(candidates(PROBS, found, bar=0.6, words=9, follow_up=(0.0, 0.0, 0.0)))
    assert same["a"][at("p_alone")] == 0.6 and same["a"][at("alone_top")] == 1.0


def test_a_follow_ups_features_say_how_much_context_it_is_read_with():
    """After a long story the conversation's topic is most of what the model reads, so the
    ranker is told how much (counting 1 from CONTEXT_WORDS words, log-scaled) and weighs
    each reading by it; a follow-up read as typed has none."""
    found = {"c": Found(1, 0.8, 10.0, True)}
    alone = {"a": 0.1, "b": 0.02, "c": 0.08, "d": 0.7, "no_answer": 0.09, "smalltalk": 0.01}
    at = FOLLOW_UP_FEATURES.index
    bare = dict(candidates(PROBS, found, bar=0.6, words=3, follow_up=(0.0, 0.0, 0.0),
                           alone=alone))
    assert all(f[at("context")] == f[at("p_section_context")] == f[at("p_alone_context")] == 0.0
               for f in bare.values())
    story = dict(candidates(PROBS, found, bar=0.6, words=3, follow_up=(0.0, 0.0, 0.0),
                            alone=alone, context=CONTEXT_WORDS))
    some = dict(candidates(PROBS, found, bar=0.6, words=3, follow_up=(0.0, 0.0, 0.0),
                           alone=alone, context=4))
    assert story["d"][at("context")] == pytest.approx(1.0)
    assert 0.0 < some["d"][at("context")] < story["d"][at("context")]
    assert story["d"][at("p_alone_context")] == pytest.approx(0.7)
    assert story["a"][at("p_section_context")] == pytest.approx(story["a"][at("p_section")])
    # the other features do not depend on it
    others = [i for i, name in enumerate(FOLLOW_UP_FEATURES) if "context" not in name]
    assert all([story[s][i] for i in others] == [bare[s][i] for i in others] for s in bare)


def test_a_follow_up_after_a_story_is_answered_with_the_context_it_was_trained_with(
        bot, monkeypatch):
    """Training describes a follow-up by Bot.question_view, answering by Bot._ranked: both
    must count the same words of context, or the ranker weighs numbers it never saw."""
    import chatbot.core.dialogue as dialogue
    story = ("I'm 44, a baker, and I've had eczema on my hands and arms since my twenties. "
             "Creams stopped working last year and my dermatologist wants me on methotrexate.")
    follow = "what should i watch out for"
    seen = []
    real = dialogue.candidates

    def recording(*args, **kwargs):
        seen.append(args[7] if len(args) > 7 else kwargs.get("context", 0))
        return real(*args, **kwargs)

    monkeypatch.setattr(dialogue, "candidates", recording)
    view = bot.question_view(follow, (story,))
    view.candidates(bot._probabilities(view.read, None))
    trained = seen[-1]
    _, state = bot.reply(story, None)
    seen.clear()
    bot.reply(follow, state)
    assert trained > 10 and seen and seen[-1] == trained


def test_best_is_the_highest_score_as_a_probability():
    cands = [("x", [0.0] * len(FEATURES)), ("y", [1.0] + [0.0] * (len(FEATURES) - 1))]
    weights = [2.0] + [0.0] * (len(FEATURES) - 1) + [-1.0]
    section, p = best(weights, cands)
    assert section == "y" and p == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert best(weights, []) is None


def test_the_saved_answer_model_carries_the_ranker():
    model = AnswerModel.load(ROOT / "corpus" / ANSWER_MODEL_FILE)
    assert model.ranker and len(model.ranker) == len(FEATURES) + 1
    # a section's own model probability counts for it
    assert model.ranker[FEATURES.index("p_section")] > 0


def test_a_ranker_trained_on_other_features_is_left_unused(bot):
    """A model saved by code with other ranker features (its data unchanged, so its key still
    matches) answers without that ranker rather than failing every follow-up."""
    from chatbot.config import Settings
    from chatbot.core import load_bot
    fresh = load_bot(Settings(reply_cache_size=0, cache_dir=None))
    model = fresh.answers
    model.extra["follow_ranker"] = model.extra["follow_ranker"][:-3] + [0.0]
    assert model.follow_ranker is None and model.ranker is not None
    _, state = fresh.reply("what are the side effects of prednisone", {})
    reply, _ = fresh.reply("and methotrexate?", state)
    assert reply["kind"] == "answer" and "methotrexate" in reply["text"].lower()


def test_the_saved_answer_model_carries_the_follow_up_ranker():
    model = AnswerModel.load(ROOT / "corpus" / ANSWER_MODEL_FILE)
    assert model.follow_ranker and len(model.follow_ranker) == len(FOLLOW_UP_FEATURES) + 1


def test_the_follow_up_ranker_learns_from_conversations_only(bot):
    """Trained from the last turns of labelled conversations, each read with the state its
    earlier turns left; without conversations there is none. The answer model learns from a
    follow-up as the engine reads it (after the conversation's topic and medicine), never
    from its last turn alone ("and for kids?"): without the replay there is nothing to learn."""
    examples = answer_examples(ROOT / "corpus", follow_ups=True)
    conversing = Counter(e.author for e in examples if e.before)
    asking = {e.author for e in examples if not e.before}
    # of the authors who wrote single questions too, those with the most conversations
    authors = sorted(set(conversing) & asking, key=lambda a: (-conversing[a], a))[:3]
    some = [e for e in examples if e.author in authors]
    assert any(e.before for e in some) and any(not e.before for e in some)
    model = train_answers(some, view=bot.question_view, jobs=1)
    assert model.follow_ranker and len(model.follow_ranker) == len(FOLLOW_UP_FEATURES) + 1
    alone = train_answers([e for e in some if not e.before], view=bot.question_view, jobs=1)
    assert alone.follow_ranker is None
    assert model.classes == alone.classes and not np.array_equal(model.coef, alone.coef)
    unread = train_answers(some, jobs=1)  # no view: no replay, no follow-up read
    singles = train_answers([e for e in some if not e.before], jobs=1)
    assert unread.follow_ranker is None and np.array_equal(unread.coef, singles.coef)


def test_the_ranker_learns_from_unseen_authors_and_needs_more_than_one(bot):
    examples = answer_examples(ROOT / "corpus")
    authors = sorted({e.author for e in examples})[:3]
    some = [e for e in examples if e.author in authors]
    weights = train_answers(some, view=bot.question_view, jobs=1).ranker
    assert weights is not None and len(weights) == len(FEATURES) + 1
    one = [e for e in examples if e.author == authors[0]]
    assert train_answers(one, view=bot.question_view, jobs=1).ranker is None


def test_where_retrieval_refuses_the_ranker_answers_and_where_it_is_unsure_refuses(bot):
    """Shorthand retrieval cannot read is answered from the ranker's section; a question
    whose words the chosen passage lacks is not (never the nearest passage)."""
    reply, _ = bot.reply("azathioprine AEs? derm wants to start me on it", None)
    assert reply["kind"] == "answer" and "azathioprine" in reply["text"].lower()
    assert 0.5 <= reply["confidence"] <= 1.0
    refused, _ = bot.reply("can cyclosporine cause diarrhea", None)  # methotrexate's, beside it
    assert refused["kind"] == "no_answer"


def test_the_ranker_reads_many_questions_at_once_as_the_model_reads_one():
    """Training reads every labelled question with batch_probabilities; answering reads one
    with AnswerModel.probabilities: the two must agree, or the ranker learns from numbers
    the engine never sees."""
    from chatbot.core.classifier import buckets
    from chatbot.training import batch_probabilities
    model = AnswerModel.load(ROOT / "corpus" / ANSWER_MODEL_FILE)
    texts = [e.text for e in answer_examples(ROOT / "corpus")[:200]] + ["", "zzqx", "🙂"]
    batch = batch_probabilities(model, [buckets(t) for t in texts])
    one = np.array([model.probabilities(t) for t in texts])
    assert batch.shape == one.shape and np.allclose(batch, one, atol=1e-6)


def test_a_question_the_ranker_is_too_unsure_to_answer_offers_its_likeliest_section(bot):
    """Refused, but the section the ranker liked best (from SUGGEST_AT) is the first
    suggestion: one tap answers it. Checked on vague questions of which some are refused that
    way (which ones changes as the models learn)."""
    from chatbot.core.dialogue import RANK_AT, SUGGEST_AT
    from chatbot.core.ranker import scores
    unsure = 0
    for text in VAGUE:
        reply, _ = bot.reply(text, {})
        scored = scores(bot.answers.ranker,
                        bot.question_view(text).candidates(bot._probabilities(text, None)))
        top = max(scored, key=scored.get)
        if reply["kind"] != "no_answer" or not SUGGEST_AT <= scored[top] < RANK_AT:
            continue  # answered, or refused another way (too unsure to suggest, or a rule)
        unsure += 1
        assert reply["suggestions"][0] == bot.section_by_id[top], text
        assert reply["confidence"] == pytest.approx(scored[top], abs=1e-3)
    assert unsure >= 2


VAGUE = ["will my immune system be weaker", "the rash calmed down, do i stay on the pills",
         "is it worth it", "what should i know", "how does it all work", "is the new stuff better",
         "what happens to my body", "are the pills or the shots stronger",
         "do they all do the same thing", "what do the doctors check", "is it risky long term",
         "can it go wrong", "how bad is it", "which one is safest", "what about the other ones",
         "what could happen", "are they strong"]
