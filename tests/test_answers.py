"""The answer model answers what retrieval would refuse, and only that."""
from __future__ import annotations

import numpy as np
import pytest

from chatbot.config import Settings
from chatbot.core import load_bot
from chatbot.core.answers import answer_examples, section_id
from live import ROOT


@pytest.fixture(scope="module")
def fresh():
    """An engine without the reply cache, so the model can be taken away and put back."""
    return load_bot(Settings(reply_cache_size=0, cache_dir=None))


def both(bot, text: str, state: dict | None = None) -> tuple[dict, dict]:
    """The reply without the answer model, then with it."""
    model, bot.answers = bot.answers, None
    try:
        alone, _ = bot.reply(text, state or {})
    finally:
        bot.answers = model
    return alone, bot.reply(text, state or {})[0]


def test_shorthand_that_retrieval_refuses_is_answered_from_the_section_the_model_names(fresh):
    alone, learned = both(fresh, "azathioprine AEs? derm wants to start me on it")
    assert alone["kind"] == "no_answer"
    assert learned["kind"] == "answer"
    assert learned["source"]["section"] == "What are the side effects of the older drugs?"
    assert "azathioprine" in learned["text"].lower()  # the section's passage about it


@pytest.mark.parametrize("text", ["what is the price of rinvoq", "whats the weather like",
                                  "can I drink alcohol on methotrexate"])
def test_what_the_article_does_not_cover_stays_not_covered(fresh, text):
    assert both(fresh, text)[1]["kind"] == "no_answer"


def test_a_follow_up_is_answered_about_the_medicine_named_earlier(fresh):
    """The model names the section from "AEs?" alone; the passage in it is the one about the
    medicine the conversation is about."""
    for medicine, words in (("methotrexate", "methotrexate can cause"),
                            ("cyclosporine", "cyclosporine can cause")):
        _, state = fresh.reply(f"what is {medicine}", {})
        alone, learned = both(fresh, "AEs?", state)
        assert alone["kind"] == "no_answer"
        assert learned["kind"] == "answer" and words in learned["text"].lower()


def test_examples_are_keyed_by_the_passage_that_answers_them():
    examples = answer_examples(ROOT / "corpus")
    sections = {e.kind for e in examples}
    assert {"no_answer", "smalltalk", section_id("What are JAK inhibitors?")} <= sections
    assert len(examples) > 1500 and all(e.author for e in examples)


def test_an_example_naming_a_section_the_article_lacks_is_refused_with_its_line(tmp_path):
    """A section renamed in the article must not leave examples silently teaching nothing."""
    import json
    import shutil

    from chatbot.core.corpus import CorpusError
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("models"))
    path = corpus / "examples" / "patient_questions.jsonl"
    rows = path.read_text().splitlines()
    row = json.loads(rows[0])
    assert row["section"].endswith("/what-are-systemic-immunomodulators")
    rows.insert(1, json.dumps({**row, "section": row["section"] + "-renamed"}))
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(CorpusError, match=r"patient_questions.jsonl:2: \"section\" '.*-renamed' "
                                          r"is not a section of any article"):
        answer_examples(corpus)


def test_a_tapped_suggestion_always_answers_from_its_section_whatever_came_before(bot):
    """Every section question, asked fresh and after a question the article does not cover
    (whose reply offers section questions as suggestions)."""
    refused, state = bot.reply("how much does dupixent cost", {})
    assert refused["kind"] == "no_answer" and refused["suggestions"]
    for section in bot.sections:
        for context in ({}, state):
            reply, _ = bot.reply(section, context)
            assert reply["kind"] == "answer", section
            assert reply["source"]["section"] == section


def test_small_talk_no_pattern_reads_is_answered_as_small_talk_when_the_model_is_sure(fresh):
    alone, learned = both(fresh, "thx sm 🙏")
    assert alone["kind"] == "no_answer"
    assert learned["kind"] == "smalltalk"
    assert learned["text"] == fresh.talk.smalltalk_replies["thanks"]  # "thx" is thanks


@pytest.mark.parametrize("text", ["how much does dupixent cost", "whats the weather like",
                                  "zxcv qwer"])
def test_the_model_does_not_turn_refusals_into_small_talk(fresh, text):
    assert both(fresh, text)[1]["kind"] == "no_answer"


def test_a_keyboard_smash_is_not_small_talk_however_sure_the_model_is(fresh):
    """A message with no word of the article, the lexicon, a dictionary or the small talk of
    the examples is not small talk, though its letters may look like "lol" to the model."""
    sure = {"smalltalk": 0.95}
    assert fresh._learned_smalltalk("hjkhjk bnmbnm", sure) is None
    assert "sup" in fresh.answers.smalltalk_words  # a chat word of the examples
    assert "hjkhjk" not in fresh.answers.smalltalk_words
    assert fresh._learned_smalltalk("sup", sure)["kind"] == "smalltalk"
    assert fresh._learned_smalltalk("ok cool", sure)["kind"] == "smalltalk"  # dictionary words


@pytest.mark.parametrize("text", ["...", "#$%@", "1234"])
def test_punctuation_or_digits_alone_are_not_covered(fresh, text):
    assert fresh.reply(text, {})[0]["kind"] == "no_answer"


def test_the_small_talk_words_are_those_of_the_small_talk_examples():
    from chatbot.core.examples import Example
    from chatbot.training import smalltalk_words
    examples = [Example("Sup fam!", "smalltalk", "a", "x:1"),
                Example("zxcvb", "no_answer", "a", "x:2"), Example("sup", "smalltalk", "b", "x:3")]
    assert smalltalk_words(examples) == ["fam", "sup"]


UNKNOWN = "who-should-not-take-systemic-immunomodulators"


@pytest.fixture(scope="module")
def without_section():
    """A bot whose answer model never saw the examples of one section (UNKNOWN), as if it
    came with an article added without examples."""
    from chatbot.training import train_answers
    bot = load_bot(Settings(reply_cache_size=0, cache_dir=None))
    bot.answers = train_answers([e for e in answer_examples(ROOT / "corpus") if e.kind != UNKNOWN])
    return bot


def test_a_section_without_examples_is_not_answered_by_the_models_favourite_among_the_others(
        without_section):
    """A clinic adds an article without examples: the model cannot know its sections, so
    where retrieval's best section is one of them, the model's guess among the sections it
    knows rescues nothing (here: an answer about what the drugs are, to a question about
    who should not take them)."""
    bot = without_section
    question = "contraindications for systemic immunomodulators in general?"
    probs = dict(zip(bot.answers.classes, bot.answers.probabilities(question)))
    assert UNKNOWN not in probs and max(probs.values()) >= 0.45  # the model would rescue
    reply, _ = bot.reply(question, None)
    assert reply["kind"] == "no_answer"


def test_a_section_without_examples_among_retrievals_best_leaves_the_reply_to_retrieval(
        without_section, monkeypatch):
    """Retrieval ranks the unknown section below another (UNKNOWN_WITHIN): the ranker, which
    cannot weigh it, would answer from a section it knows; retrieval's reply stands."""
    import chatbot.core.dialogue as dialogue
    from chatbot.core.dialogue import fold
    bot = without_section
    question = ("What if I turn out to be allergic to it? I am already allergic to penicillin "
                "and sulfa.")
    ranking, _ = bot._search(bot.parser.parse(question), fold(question), bot.state(None))
    best = list(dict.fromkeys(section_id(h.passage.section) for h in ranking.hits))
    assert UNKNOWN in best[1:dialogue.UNKNOWN_WITHIN]
    model, bot.answers = bot.answers, None
    alone, _ = bot.reply(question, None)
    bot.answers = model
    assert bot.reply(question, None)[0] == alone
    monkeypatch.setattr(dialogue, "UNKNOWN_WITHIN", 1)
    ranked, _ = bot.reply(question, None)
    assert ranked["kind"] == "answer" and ranked["text"] != alone["text"]


def test_an_example_teaches_the_passages_of_its_section_holding_the_words_it_expects(tmp_path):
    """Which passage of a section a question wants is what its expected words say: the
    passages holding one of them, unless that is every passage of the section or none."""
    import json
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus,
                    ignore=shutil.ignore_patterns("models", "*_questions.jsonl"))
    older = "systemic-immunomodulators-eczema/what-are-the-side-effects-of-the-older-drugs"
    first = "systemic-immunomodulators-eczema/what-are-systemic-immunomodulators"
    rows = [(older, ["Methotrexate can cause"]), (older, ["MYCOPHENOLATE  mofetil can cause",
                                                          "Methotrexate can cause"]),
            (older, ["not words of the article"]), (first, ["medication"])]  # in both its passages
    (corpus / "examples" / "my_questions.jsonl").write_text("".join(
        json.dumps({"id": f"M{i}", "author": "me", "turns": ["which one?"], "section": section,
                    "expect": {"kind": "answer", "any": phrases}}) + "\n"
        for i, (section, phrases) in enumerate(rows)))
    bot = load_bot(Settings(corpus_dir=corpus, cache_dir=None))
    holding = {w: next(p.id for p in bot.passages if p.text.lower().startswith(w))
               for w in ("methotrexate can cause", "mycophenolate mofetil can cause")}
    taught = [e.passages for e in answer_examples(corpus)]
    assert taught == [(holding["methotrexate can cause"],),
                      (holding["methotrexate can cause"], holding["mycophenolate mofetil can cause"]),
                      (), ()]


@pytest.fixture(scope="module")
def passage_fit():
    """An answer model and its passage model fitted on a third of the questions, with the
    scikit-learn steps they came from."""
    from chatbot.core.answers import AnswerModel
    from chatbot.training import (ANSWER_C, ANSWER_SOLVER, ANSWER_TOL, fit_passages,
                                  fit_pipeline, rows_of, to_model)
    examples = answer_examples(ROOT / "corpus")[::3]
    rows = rows_of(e.text for e in examples)
    labels = [e.kind for e in examples]
    vocab, tfidf, clf = fit_pipeline(rows, labels, ANSWER_C, None, ANSWER_SOLVER, ANSWER_TOL)
    model = to_model(vocab, tfidf, clf, "", AnswerModel, tuple(sorted(set(labels))))
    return model, tfidf, fit_passages(model, tfidf, examples, rows)


def test_passage_probabilities_equal_scikit_learns_among_the_passages_offered(passage_fit):
    from chatbot.core.classifier import buckets
    from chatbot.training import _matrix
    model, tfidf, clf = passage_fit
    among = list(clf.classes_[:5])
    texts = [e.text for e in answer_examples(ROOT / "corpus")[1::97]] + ["zzqx", ""]
    expected = clf.predict_proba(tfidf.transform(_matrix([buckets(t) for t in texts], model.vocab)))
    expected = expected[:, :5] / expected[:, :5].sum(axis=1, keepdims=True)
    got = np.array([model.passage_probabilities(t, among) for t in texts])
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # a passage no example taught gets nothing; none taught at all: no choice to make
    assert model.passage_probabilities(texts[0], among + ["article/section/99"])[-1] == 0.0
    assert model.passage_probabilities(texts[0], ["article/section/99"]) is None


def test_the_passage_model_survives_the_round_trip(passage_fit, tmp_path):
    from chatbot.core.answers import AnswerModel
    model, _, clf = passage_fit
    model.save(tmp_path / "answers.npz")
    again = AnswerModel.load(tmp_path / "answers.npz")
    among = list(clf.classes_)
    for text in ("does methotrexate cause hair loss", "pink eye from dupixent?"):
        np.testing.assert_allclose(again.passage_probabilities(text, among),
                                   model.passage_probabilities(text, among), atol=1e-5)


def test_the_saved_answer_model_carries_the_passage_model(bot):
    known = bot.answers.extra["passages"]
    assert len(known) > 20 and set(known) <= {p.id for p in bot.passages}


def test_within_its_section_the_passage_is_the_one_the_question_wants(fresh):
    """Retrieval alone offers the section's best-scored passage; the passage model the one
    the question's words ask about. On labelled questions whose section holds several
    passages, the passage model's choice is the one they expect more often."""
    model = fresh.answers
    right = {"alone": 0, "learned": 0}
    for example in answer_examples(ROOT / "corpus", follow_ups=False)[::7]:
        if not example.passages:
            continue
        taught = model.extra.pop("passages")
        try:
            alone, _ = fresh.reply(example.text, {})
        finally:
            model.extra["passages"] = taught
        learned, _ = fresh.reply(example.text, {})
        if alone["source"] and learned["source"] and \
                alone["source"]["section"] == learned["source"]["section"]:
            right["alone"] += alone["source"]["passage_id"] in example.passages
            right["learned"] += learned["source"]["passage_id"] in example.passages
    # (in sample: 353 against 336 when written; out of fold the model's gain is larger,
    # bench/NOTES.md. Without the passage model the two are equal)
    assert right["learned"] >= 1.03 * right["alone"], right
