"""Retrieval over realistic patient phrasings: brands, typos, lay words, and honest misses."""
from __future__ import annotations

import pytest

from chatbot.core.spelling import SpellingCorrector

ANSWERS = [
    ("can i take mtx if im pregnant", "pregnancy category X"),
    ("dupixant pink eye", "conjunctivitis"),
    ("Dupixent side effects", "conjunctivitis"),
    ("dupilumab side effects", "conjunctivitis"),
    ("metotrexate side efects", "mouth sores"),
    ("is rinvoq a pill", "takes by mouth"),
    ("cellcept diarrhea", "colitis"),
    ("imuran side effects", "Stevens-Johnson"),
    ("adbry eosinophils", "eosinophils"),
    # not covered (the ranker all but ruled out retrieval's section) until sets GG-GI were
    # trained on
    ("labs on methotrexate", "blood tests"),
    # with sets JL and JM trained on, the source named was the passage on the newer drugs'
    # long-term safety (prednisone's second); prednisone's again since JQ-JS
    ("steroid pills long term", "cannot be used long-term"),
    ("can i breastfeed on methotrexate", "pregnant or nursing"),
    ("do jak inhibitors raise blood pressure", "high blood pressure"),
    ("what are biologics", "target specific parts of the immune system"),
    ("what is an immunomodulator", "class of medications that influences the immune system"),
    ("Ruxolitinib cream", "Ruxolitinib (Opzelura)"),
    ("does stress make eczema worse", "Stress can be an eczema trigger"),
]

NOT_COVERED = [
    "who won the world cup",
    "how much does rinvoq cost per month",
    "what is the dose of prednisone for a child",
    "can I take dupixent with alcohol",
    "how long does dupixent take to work",
    "is dupixent covered by medicare",
    "how do I inject dupixent",
    "what foods should i avoid to clear my eczema",
    "whats the best moisturizer for baby eczema",
    "what's 17 times 23",
    "what time is it",
    "zxcvb",
]


@pytest.mark.parametrize("question, phrase", ANSWERS)
def test_patient_phrasing_finds_the_passage(bot, question, phrase):
    reply, _ = bot.reply(question, {})
    assert reply["kind"] == "answer", reply
    # the passage named as the source is shown (with, where the passage model is unsure, the
    # runner-up of its section: dialogue.SECOND_AT) and holds the phrase
    source = next(p.text for p in bot.passages if p.id == reply["source"]["passage_id"])
    assert source in reply["text"] and phrase in source


@pytest.mark.parametrize("question", NOT_COVERED)
def test_uncovered_question_is_not_answered_with_the_nearest_passage(bot, question):
    reply, _ = bot.reply(question, {})
    assert reply["kind"] == "no_answer"
    assert reply["source"] is None
    assert 0 < len(reply["suggestions"]) <= 3
    assert all(s in bot.sections for s in reply["suggestions"])


def test_confidence_separates_answers_from_misses(bot):
    hit, _ = bot.reply("side effects of methotrexate", {})
    miss, _ = bot.reply("who won the world cup", {})
    assert 0 <= miss["confidence"] < bot.min_confidence <= hit["confidence"] <= 1


def test_every_section_question_answers_from_its_own_section(bot):
    """Suggestion chips are section questions; tapping one must land in that section."""
    for section in bot.sections:
        reply, _ = bot.reply(section, {})
        assert reply["kind"] == "answer" and reply["source"]["section"] == section


@pytest.mark.parametrize("typo, fixed", [
    ("metotrexate", "methotrexate"), ("dupixant", "dupixent"), ("cyclosporne", "cyclosporine"),
    ("pregnent", "pregnant"), ("tralokinamab", "tralokinumab"),
])
def test_spelling_correction_reaches_known_words(bot, typo, fixed):
    assert bot.parser.speller.correct(typo) == fixed


@pytest.mark.parametrize("word", ["month", "women", "cost", "weather",
                                  # English words one or two letters from an article word
                                  "talking", "thinking", "together", "breaking", "called"])
def test_everyday_words_are_not_bent_into_article_words(bot, word):
    assert bot.parser.speller.correct(word) == word


@pytest.mark.parametrize("typed, name", [
    ("can i take metho trexate while breastfeeding", "methotrexate"),
    ("cyclo sporine and my kidneys", "cyclosporine"),
    ("dupi xent pink eye", "dupixent"),
    ("is a bro city nib a jak1 blocker", "abrocitinib"),  # voice typing
])
def test_a_medicine_name_typed_in_pieces_is_joined(bot, typed, name):
    query = bot.parser.parse(typed)
    assert name in [c.word for c in query.concepts]
    assert query.entities


@pytest.mark.parametrize("typed, name", [
    # voice typing spells a name by its sound, often in everyday words (its Metaphone key)
    ("what can sickle sporeen do to my kidneys", "cyclosporine"),
    ("is meth oh tricks ate safe with alcohol", "methotrexate"),
    ("side effects of mike oh fen oh late", "mycophenolate mofetil"),
    ("my doctor said prednisona for the flare", "prednisone"),
    # a short brand heard as two or three short words, in an English message
    ("tell me about ad bree", "tralokinumab"),
    ("my doctor said sib in koh what kind of drug is that", "abrocitinib"),
    # the glide a name said in pieces picks up ("kin you mab")
    ("what is tra low kin you mab", "tralokinumab"),
])
def test_a_medicine_name_spelt_by_its_sound_is_found(bot, typed, name):
    query = bot.parser.parse(typed)
    assert query.entities == [name]


@pytest.mark.parametrize("question", [
    "can i take it on a plane", "my mom takes medrol and metho", "cycling sports in the morning",
    "is a biologic a steroid", "the dupixent shot stings",
    # everyday words that sound a little like a name, or exactly like a short one
    "can you send me an email", "is aspirin ok with it", "my partner is worried",
    "to pass out and wake up", "text tonight", "the prisoner", "matter ill",
    # a short name's sound: in one long word, in everyday English, in another language
    "is my adderall ok", "add some brie to the salad", "me duro el brazo toda la noche",
])
def test_ordinary_words_are_not_joined_into_a_medicine(bot, question):
    words = question.split()
    assert bot.parser.speller.join_names(words) == (words, {})


def test_corrector_only_targets_long_or_lexicon_words():
    speller = SpellingCorrector.for_vocabulary({"mouth", "methotrexate"}, {"dupixent"})
    assert speller.correct("month") == "month"
    assert speller.correct("methotrexat") == "methotrexate"
    assert speller.correct("dupixemt") == "dupixent"


def test_postings_bm25_scores_equal_rank_bm25s(bot):
    from rank_bm25 import BM25Okapi
    import numpy as np

    docs = [[t for t, n in d.items() for _ in range(n)] for d in bot.index.bm25.doc_freqs]
    reference = BM25Okapi(docs)
    for question in ["side effects of methotrexate", "dupixent pink eye", "who won the world cup"]:
        terms = bot.parser.parse(question).terms
        assert np.allclose(bot.index.bm25.get_scores(terms), reference.get_scores(terms))
        assert bot.index.bm25.get_scores(terms).any() or question == "who won the world cup"


def test_a_sentence_naming_no_medicine_speaks_of_them_all(bot):
    """A passage opening with methotrexate whose next sentence speaks of the whole class is on
    topic for another medicine when that sentence answers the question; a passage whose only
    sentence names methotrexate is not."""
    section = "Who should not take systemic immunomodulators?"

    def on_topic(question):
        return {h.passage.id.rsplit("/", 1)[1]
                for h in bot.index.rank(bot.parser.parse(question)).section(section)}

    assert "3" in on_topic("i had tuberculosis, can i use dupixent")  # "...tuberculosis should also refrain"
    assert "3" not in on_topic("is dupixent bad for the liver")  # the liver sentence names methotrexate
    assert "2" not in on_topic("can pregnant women use dupixent")  # "...such as methotrexate"


@pytest.mark.parametrize("question", [
    # weight gain is prednisone's, not dupilumab's: refused since the boundary questions of
    # set CH were learned (its two on weight gain left out of the examples, as this pins it)
    "does dupixent cause weight gain",
    "does rinvoq cause hair loss",          # hair loss is methotrexate's and azathioprine's
    "can cyclosporine cause diarrhea",
    "can pregnant women use dupixent",      # the pregnancy passage is about methotrexate
])
def test_a_passage_about_another_medicine_is_never_the_answer(bot, question):
    reply, _ = bot.reply(question, {})
    assert reply["kind"] == "no_answer", reply["text"]


@pytest.mark.parametrize("question, phrase", [
    ("can i take dupixent if i had cancer", "history of cancer"),  # general: applies to all
    ("rinvoq side effects", "The potential side effects of JAK inhibitors"),  # its class
    ("can i take immunosuppressants with hepatitis b", "hepatitis"),  # a member named
])
def test_general_or_class_passages_still_answer_for_a_medicine(bot, question, phrase):
    reply, _ = bot.reply(question, {})
    assert reply["kind"] == "answer" and phrase in reply["text"]


@pytest.mark.parametrize("question, number, kept", [
    ("she took 84 pills of vitamin c", "84", False),
    ("it took 3 days to clear", "3", False),
    ("what does il 13 do", "13", True),  # the article's own number (IL-13) still counts
])
def test_numbers_the_article_never_uses_are_not_concepts(bot, question, number, kept):
    concepts = bot.parser.parse(question).concepts
    assert any(number in c.word.split() for c in concepts) == kept


def test_a_comparison_is_answered_by_the_passage_naming_both_medicines(bot):
    query = bot.parser.parse("cibinqo vs rinvoq")
    assert [c.compares for c in query.concepts] == [False, True, False]
    best = bot.index.search(query)[0]
    assert "Cibinqo" in best.passage.text and "Rinvoq" in best.passage.text
    assert best.coverage == 1.0
    # one medicine alone: "vs" has nothing to compare, so it is an ordinary word
    assert bot.index.naming_all(bot.parser.parse("rinvoq vs")) is None


def test_filler_phrases_are_left_out_of_the_question(bot):
    words = [c.word for c in bot.parser.parse("my derm wants me to take rinvoq all the time").concepts]
    assert "derm" not in words and "time" not in words
    assert any("rinvoq" in w for w in words)


@pytest.mark.parametrize("typo, fixed", [("dupixant", "dupixent"), ("inhibiters", "inhibitors"),
                                         ("pregnency", "pregnancy"), ("presure", "pressure")])
def test_typos_that_are_not_english_words_are_still_corrected(bot, typo, fixed):
    assert bot.parser.speller.correct(typo) == fixed


@pytest.mark.parametrize("question, stands_for", [
    ("my grandma is 84, can she take methotrexate", "older"),
    ("im 70 can i take methotrexate", "older"),
    ("my 80 year old dad has eczema", "older"),
    ("im 30, can i take methotrexate", None),  # not old: nothing to look for
    ("i had cancer 70 years ago", None),  # a count of years, not an age
    ("my son is 9, could he take rinvoq", "children"),
    ("my daughter is 3 can she use dupixent", "children"),
    ("my son is 15, can he take dupixent", None),  # a teenager is not a young child
    ("i had eczema for 5 years", None),  # a count of years, not an age
])
def test_an_age_asks_about_older_adults_or_children(bot, question, stands_for):
    number = next(w for w in question.replace(",", " ").split() if w.isdigit())
    concept = next((c for c in bot.parser.parse(question).concepts if number in c.word.split()), None)
    if stands_for is None:
        assert concept is None
    else:
        assert any(stands_for in stem for alt, _ in concept.alternatives for stem in alt)


@pytest.mark.parametrize("message, asides", [
    ("My mom is 82. Would she be a good candidate?", ["my", "mom", "is", "82"]),
    ("im on rinvoq and my platelets are low", []),  # one sentence: nothing is aside
    ("Is dupixent safe? Is rinvoq?", []),  # every sentence asks
    ("My son has eczema.", []),  # nothing asks: the whole message is the question
])
def test_the_story_around_a_question_is_told_apart(message, asides):
    from chatbot.core.query import QueryParser
    from chatbot.core.text import words
    flags = QueryParser._asides(message)
    assert [w for w, aside in zip(words(message), flags) if aside] == asides


@pytest.mark.parametrize("message, asked", [
    ("My insurance turned Dupixent down. What is a biologic?", "What is a biologic?"),
    ("What does Rinvoq cost a month? I am on a budget.", "What does Rinvoq cost a month?"),
    ("Is dupixent safe? Is rinvoq?", None),  # every sentence asks
    ("My son has eczema.", None),  # nothing asks: the whole message is the question
    # asked without a question mark or a question word: said as a wish to know
    ("Mum pays a lot for her tablets. I'd like to understand what the new one does.",
     "I'd like to understand what the new one does."),
    ("He takes pills for his heart. So I was wondering whether Rinvoq is ok for him.",
     "So I was wondering whether Rinvoq is ok for him."),
    ("Please explain the difference. My copay doubled.", "Please explain the difference."),
    ("The doctor did not explain anything. What is a biologic?", "What is a biologic?"),
])
def test_the_sentences_that_ask_are_told_apart(message, asked):
    from chatbot.core.query import asked_part
    assert asked_part(message) == asked


def test_the_story_stays_aside_when_a_name_typed_in_pieces_is_joined(bot):
    """Joining "metho trexate" into one word leaves the story's words aside all the same,
    and the joined name is aside only when all its pieces were."""
    query = bot.parser.parse("My mum is 82 and on metho trexate. Is it safe for her?")
    aside = {c.word for c in query.concepts if c.aside}
    assert query.entities == ["methotrexate"]
    assert "82" in aside and "methotrexate" in aside
    assert not any(c.aside for c in query.concepts if c.word == "safe")


@pytest.mark.parametrize("typed", [
    "what are the side effects of dupixent im a nurse", "is rinvoq ok for me", "cibinqo or dupixent",
])
def test_a_name_typed_whole_is_not_joined_with_the_next_word(bot, typed):
    """"dupixent im" is no medicine in pieces: the name was typed whole."""
    words = typed.split()
    assert bot.parser.speller.join_names(words) == (words, {})


def test_a_question_asked_as_a_wish_to_know_is_not_refused_for_the_story(bot):
    """A carer's story names the insurance, then asks without a question mark: the topic
    rules read the sentence that asks, so the story's costs do not refuse it."""
    reply, _ = bot.reply("My father is 80 and his insurance only covers part of his "
                         "prescriptions. The dermatologist wants to start him on Dupixent. I "
                         "would like to understand how this medicine works.", {})
    assert reply["kind"] == "answer" and "biologic" in reply["text"]


@pytest.mark.parametrize("question, phrase", [
    ("I have been through every single eczema treatment my dermatologist can think of and "
     "nothing has worked. Is there anything left at all?", "clinical trial"),
    ("I had tuberculosis about ten years ago and was treated for it. Now my derm is talking "
     "about immunosuppressants for my eczema. Is that a problem?", "tuberculosis"),
])
def test_a_long_story_does_not_drown_its_question(bot, question, phrase):
    reply, _ = bot.reply(question, {})
    assert reply["kind"] == "answer" and phrase in reply["text"]



@pytest.mark.parametrize("question", ["side effects of methotrexate", "dupixent for kids",
                                      "can i drink on mtx", "what are jak inhibitors"])
def test_one_ranking_gives_the_best_hits_and_each_sections_passages(bot, question):
    ranking = bot.index.rank(bot.parser.parse(question))
    everything = ranking.top(len(bot.passages))
    assert ranking.hits == everything[:5]
    # scores are best first overall, and so within a section
    assert [h.score for h in everything] == sorted((h.score for h in everything), reverse=True)
    section = ranking.hits[0].passage.section
    assert ranking.section(section, on_topic=False) == [
        h for h in everything if h.passage.section == section]
    assert ranking.section(section) == [
        h for h in everything if h.passage.section == section and h.on_topic]


def test_a_query_without_content_words_ranks_nothing(bot):
    ranking = bot.index.rank(bot.parser.parse("the and of"))
    assert ranking.hits == [] and ranking.section(bot.passages[0].section) == []


def test_a_passage_is_ruled_out_by_a_missing_fact_not_by_a_common_word(bot):
    """Cyclosporine's list leaves out diarrhea, which only methotrexate's section names: not
    its answer. A word many sections use ("eczema") says nothing about which passage answers,
    so leaving it out rules no passage out (SPECIFIC_SECTIONS)."""
    from chatbot.core.retrieval import SPECIFIC_SECTIONS
    index = bot.index
    cyclosporine = next(i for i, p in enumerate(index.passages)
                        if "Cyclosporine can cause" in p.text)
    assert index.contradicts(bot.parser.parse("can cyclosporine cause diarrhea"), cyclosporine)
    eczema = bot.parser.parse("eczema").concepts[0]
    using = [s for s, terms in index.section_terms.items()
             if any(alt <= terms for alt, _ in eczema.alternatives)]
    assert len(using) > SPECIFIC_SECTIONS
    assert not any(alt <= index.term_sets[cyclosporine] for alt, _ in eczema.alternatives)
    query = bot.parser.parse("can cyclosporine for eczema cause kidney damage")
    assert not index.contradicts(query, cyclosporine)


def test_within_a_section_only_a_list_item_left_out_rules_a_passage_out(bot):
    """With `listed`, a word the section uses in running text ("higher risk", said of
    prednisone) does not rule out cyclosporine's list, while an item of another medicine's list
    (diarrhea) still does: the bridge (dialogue.BRIDGE_AT) weighs facts, not wording."""
    index = bot.index
    cyclosporine = next(i for i, p in enumerate(index.passages)
                        if "Cyclosporine can cause" in p.text)
    worded = bot.parser.parse("does cyclosporine pose a higher risk")
    assert index.contradicts(worded, cyclosporine, within_section=True)
    assert not index.contradicts(worded, cyclosporine, within_section=True, listed=True)
    fact = bot.parser.parse("can cyclosporine cause diarrhea")
    assert index.contradicts(fact, cyclosporine, within_section=True, listed=True)
    assert {"diarrhea", "headach"} <= index.listed and "risk" not in index.listed


def test_a_column_built_at_start_gives_the_rows_one_built_on_demand_gives(bot, monkeypatch):
    """An article's columns build every key's passage mask once (retrieval.MASK_BYTES); a
    corpus too large for that builds them per question. Both give the same rows, and a
    shared mask cannot be changed by the scoring that reads it."""
    from chatbot.core import retrieval

    built = bot.index.pairs_col
    assert built.masks is not None
    sets = [frozenset(k for k, ids in built.postings.items() if i in ids) for i in range(built.size)]
    monkeypatch.setattr(retrieval, "MASK_BYTES", 0)
    on_demand = retrieval.Column(sets)
    assert on_demand.masks is None
    for key in list(built.postings)[:300] + [("no", "such")]:
        assert (built.row(key) == on_demand.row(key)).all()
    with pytest.raises(ValueError):
        built.row(next(iter(built.postings)))[0] = True
