"""One turn of a conversation: `Bot.reply(text, state) -> (reply, state)`.

Every front end (CLI, websocket, REST) calls this and nothing else. The order
of checks is the safety policy: crisis and emergency first, then small talk,
then topics the article never covers, then retrieval, where a low confidence
gives an honest "not covered" rather than the nearest passage. The state is a
chatbot.core.state.State (the medicine being discussed, who it is for ...), which a server
keeps per connection or hands to a client as an opaque context (State.context(), read back
with Bot.state). Nothing here keeps a message after its reply: no cache of what patients type
(chatbot.server.chat.ReplyFrames holds the public questions' replies).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, NamedTuple

from chatbot.config import Settings
from chatbot.core.answers import NOT_COVERED, AnswerModel, answer_model_for, section_id
from chatbot.core.classifier import buckets, sentences
from chatbot.core.ranker import Found, candidates, found_sections, scores
from chatbot.core.corpus import (CorpusError, Document, Passage, lead_ins, load_corpus,
                                 reply_text)
from chatbot.core.english import is_english
from chatbot.core.highlight import Highlighter
from chatbot.core.lexicon import Lexicon
from chatbot.core.places import Places, replaced
from chatbot.core.query import Query, QueryParser
from chatbot.core.retrieval import Hit, Index, Ranking
from chatbot.core.risk import model_for
from chatbot.core.safety import (AnyOf, Assessment, Safety, compile_any, compile_patterns,
                                 load_toml)
from chatbot.core.spelling import SpellingCorrector
from chatbot.core.state import MAX_NAMED, MAX_TOPIC_CHARS, START, State
from chatbot.core.text import Analyzer, StemCache, load_word_list, words

MAX_SUGGESTIONS = 3
EMOJI = ("So", "Sk")  # Unicode categories of emoji and their modifiers ("👍", "❤️")
MAX_INPUT_CHARS = 2000  # longer messages are answered from this much of them
MAX_SAFE_FRAME = 64 * 1024  # and read for risk (at the start and the end) up to this length
# A long message tells a story around its question, and every word of it the best passage
# does not share lowers that passage's coverage. So the bar an answer must clear falls from
# min_confidence at SHORT_WORDS words to min_confidence - LONG_ALLOWANCE at LONG_WORDS.
SHORT_WORDS, LONG_WORDS, LONG_ALLOWANCE = 8, 20, 0.2
# When retrieval would say "not covered", the answer model's section is the answer if its
# probability is at least this. Leaving authors out (bench/answer_quality.py, 2026-12-01, 31
# authors), 0.45 against 0.6 answered 0.8 points more questions right with no more wrong
# passages and 0.4 points fewer not-covered questions refused (97.3%); 0.3 cost one wrong
# passage for every three more right.
ANSWER_AT = 0.45
# ... and the answer is small talk if the model's P(smalltalk) is at least this: out of fold, no
# question retrieval refused reached even 0.3 (bench/NOTES.md), while "thx sm 🙏" or "hey im
# jess 👋", which no smalltalk pattern reads, score 0.7-0.9. Small talk in new voices ("ur
# answers are way too long smh", "brb kid is screaming") was the weakest part of every set at
# first sight (thirteenth session: 162 of 266); examples in many voices (sets DU-EF) mended
# most of it (sets EG and EH, not trained on: 50 -> 97 of 120). 0.4 would add a little (out
# of fold, 6 author folds, 1,171 small talk: 94.1% -> 96.4%; EG and EH 97 -> 101 of 120), but
# a word the model has never seen ("zxcvb", "hjkl") reads 0.45 small talk, and gibberish is
# not covered.
SMALLTALK_AT = 0.5
# The learned ranker (chatbot.core.ranker): where retrieval falls short of its bar, the
# ranker's section answers from RANK_AT; where retrieval clears it, only a section the ranker
# gives OVERRULE_AT replaces retrieval's (chosen out of fold by author, bench/NOTES.md).
RANK_AT = 0.5
OVERRULE_AT = 0.8
# A follow-up's ranker is less sure of what a new author means: out of fold (6 author folds,
# 43 authors, 2026-12-02), the follow-ups it answered from 0.5 to 0.8 were right 32 times and
# wrong 32 times, so below FOLLOW_RANK_AT a follow-up retrieval falls short on is "not
# covered". Follow-ups right 66.7% -> 63.7%, wrong 15.0% -> 12.0%; all answerable questions
# 79.5 / 8.7 / 11.7 -> 78.7 / 7.9 / 13.4 right / wrong / refused, not covered refused 95.8%
# -> 96.1%, and sections without examples now get fewer wrong answers than from retrieval
# alone (12.8% against 13.2%, right 64.6% each). At 0.7: 79.1 / 8.1 / 12.8. Once the passage
# choice weighed every paragraph of the section (fewer wrong answers where the section is
# right), 0.75 (thirteenth session, 6 author folds, 102 authors, 3,150 answerable follow-ups):
# follow-ups right / wrong / refused 79.4 / 5.4 / 15.2 -> 80.8 / 5.5 / 13.7 (44 more right, 3
# more wrong), not covered follow-ups refused 92.5% -> 91.9%; all answerable 85.9 / 3.8 / 10.2
# -> 86.4 / 3.9 / 9.7. At 0.7: 86.7 / 4.1 / 9.2, a wrong answer for every three more right.
# On EK, conversations written afterwards and not trained on: 85.3% -> 86.0%.
FOLLOW_RANK_AT = 0.75
# A section the ranker gives at least BRIDGE_AT answers even when each of its passages leaves
# out a word of the question that the article uses elsewhere, so long as the section itself
# never uses it or it came from an earlier turn (Index.contradicts within_section: "part" in
# "could stress be part of it?"), from its passage retrieval ranks first: a rule may not
# refuse what the model is sure of, while "can cyclosporine cause diarrhea" (diarrhea is
# beside cyclosporine's list, in methotrexate's) stays "not covered". Out of fold (6 author
# folds, 40 authors, 2026-12-02), against never: single questions right 82.0% -> 85.4%,
# wrong 9.2% -> 8.5%, not covered refused 95.9% -> 95.7%; follow-ups right 63.5% -> 67.6%,
# wrong 20.1% -> 20.0%, not covered refused 94.0% -> 92.9%. Lower thresholds add a few right
# answers for more wrong ones and more not-covered questions answered.
# Since the fourteenth session only a word of one of the section's lists counts (Index.listed:
# side effects, conditions, medicines, a fact the passage would state if it held it): of
# the answerable questions the bridge refused, most left out a common word the section uses
# elsewhere ("monitoring", "kind", "common"), while the not-covered ones it refused asked for
# an item of another medicine's list ("can dupixent cause shingles"). Out of fold (6 author
# folds, 111 authors, 9,996 answerable, the same fold models): right / wrong 8,708 / 377 ->
# 8,845 / 381, not covered refused 2,442 -> 2,441 of 2,571. Setting every word aside from
# 0.8 instead answered 31 of those not-covered questions; only list words, from 0.7: 182
# more right for 19 more wrong.
BRIDGE_AT = 0.8
# Where retrieval clears its bar but the ranker prefers another section and gives retrieval's
# less than VETO_BELOW, the ranker decides as if retrieval had fallen short (its section from
# RANK_AT, else "not covered"): out of fold, six in ten such answers were wrong. Not where
# the passage holds every word of the question (VETO_COVERAGE). Out of fold (6 author folds,
# 40 authors, 2026-12-02), against no veto: single questions right 85.4% -> 84.5%, wrong
# 8.5% -> 6.2%, not covered refused 95.7% -> 96.5%; follow-ups right 67.6% -> 68.6%, wrong
# 20.0% -> 16.6% (at 0.2). Vetoing also where the ranker agrees but is unsure cost 0.2 points
# of right answers for 0.1 fewer wrong. Raised to 0.5 with more authors (44, 2026-12-02):
# questions retrieval answered where the ranker gave its section 0.2-0.5 were right 27 times
# and wrong 27; all answerable 78.2 / 8.2 / 13.6 -> 78.1 / 7.8 / 14.2 right / wrong /
# refused, sections without examples wrong 13.0% -> 12.7% (at 0.35: 78.0 / 8.0 / 14.0).
VETO_BELOW = 0.5
VETO_COVERAGE = 0.99
# A follow-up retrieval answers is vetoed where its ranker gives retrieval's section less than
# FOLLOW_VETO_BELOW, whichever section it prefers: out of fold (before it; 6 author folds, 44
# authors, 2026-12-02), the follow-ups retrieval answered where the ranker gave its section
# under 0.3 were right 9 times and wrong 22. All answerable 78.2 / 8.6 / 13.2 -> 78.2 / 8.2 /
# 13.6 right / wrong / refused, not covered refused 96.0% either way; sections without
# examples wrong 13.4% -> 13.0%. Vetoing only where the ranker prefers another section (as
# for first questions): 78.2 / 8.4 / 13.4; at 0.4: 78.0 / 8.1 / 14.0.
FOLLOW_VETO_BELOW = 0.3
# A question the ranker was too unsure of to answer is "not covered", but the sections it gave
# at least SUGGEST_AT lead its suggestions (a tapped suggestion always answers).
SUGGEST_AT = 0.2
# Within the section that answers, the passage is the one with the best mix of the passage
# model's probability (AnswerModel.passage_probabilities, among the section's passages on the
# medicine asked about) and retrieval's score (scaled 0-1 among them), weighing the model
# PASSAGE_WEIGHT. Out of fold (6 author folds, 45 authors, 2026-12-02), of the 1,388
# answered questions with more than one passage among retrieval's best five, retrieval's
# first was right 1,212 times; the mix at 0.65 gave 72 more right and 5 fewer (1,279), flat
# from 0.6 (+67) to 0.8 (+65); the model alone +64 (88 more, 24 fewer). Choosing among all
# the section's passages rather than retrieval's best five, all answerable questions went
# from 77.2 / 7.7 / 15.2 right / wrong / refused to 79.4 / 5.5 / 15.2 (78.9 / 5.9 with the
# five); not covered, small talk and sections without examples unchanged. Choosing only among
# the passages that may answer (_answerable: none leaving out a word of the question the
# article uses) did worse (57 authors, 5,246 answerable, 2026-12-02): 80.8 / 6.0 / 13.2 ->
# 79.3 / 7.5 / 13.2: a passage missing a word is often still the one a question wants.
# The mix weighs every passage of the section, also those retrieval holds to be about another
# medicine (their score is a point lower, Index.rank): "hep b carrier, can i take adbry ||
# cibinqo then?" wants "... Those with a history of severe infections, hepatitis, and
# tuberculosis should also refrain from using these medications", a paragraph that begins with
# methotrexate. Of 443 wrong answers out of fold, 162 were the right section's other passage,
# and in 107 of those the right one was left out as another medicine's. Weighing all of them
# (6 author folds, 8,752 answerable, the same fold models, 2026-12-02): right / wrong /
# refused 84.6 / 5.1 / 10.4 -> 85.8 / 3.8 / 10.4 (115 wrong answers right, 4 right ones
# wrong); not covered and small talk unchanged. Asking the passage model for 0.5 or 0.7
# before another medicine's passage may answer changed nothing (it is sure where it picks one).
# Measured again with three times the authors (6 author folds, 134 authors, 12,084
# answerable, the same fold models, sixteenth session): right / wrong 10,854 / 417 at 0.65, 10,859 / 412 at 0.75,
# 10,863 / 408 at 0.8 (16 wrong answers right, 7 right ones wrong), 10,847 / 424 at 0.9,
# 10,822 / 449 from the model alone; 10,806 / 465 at 0.5. Refusals, not covered and small
# talk do not change: the passage model has learned enough to weigh more than retrieval.
PASSAGE_WEIGHT = 0.8
# When the mix is unsure which passage answers (the runner-up's at least SECOND_AT of the
# best's), the answer shows both, in the article's order, if together they are at most
# MAX_ANSWER_WORDS long: a patient reads one more short paragraph of the same section rather
# than the wrong one. Out of fold (6 author folds, 66 authors, 6,188 answerable, the same
# fold models, 2026-12-02): right / wrong / refused 80.2 / 6.4 / 13.5 without, 80.6 / 6.0
# at 0.8, 81.1 / 5.5 at 0.5, 81.2 / 5.3 at 0.3, 81.3 / 5.2 always (0.0); at 0.5 with 100
# words 81.0 / 5.6. Refusals, not covered and small talk do not change. Measured again (6
# author folds, 128 authors, 11,381 answerable, the same fold models, fifteenth session):
# right / wrong 10,150 / 420 at 0.5, 10,170 / 400 at 0.3 (20 wrong answers right, none
# lost), 10,181 / 389 always; 0.3 keeps a reply to one paragraph where the mix is sure.
SECOND_AT = 0.3
MAX_ANSWER_WORDS = 120
# A follow-up's passage is chosen from two readings of it, each weighing the same: with the
# conversation's topic (what chose its section) and alone, its own words ("i had hepatitis b
# years ago" then "who else shouldnt take these" asks the general list, not the hepatitis
# passage again). Out of fold (6 author folds, 197 authors, 6,167 answerable follow-ups, the
# same fold models, twenty-ninth session): right / wrong 84.51 / 5.38% with the topic's
# reading alone, 84.82 / 5.08% at 0.2, 84.89 / 5.01% at 0.3, 84.87 / 5.03% at 0.5, 84.19 /
# 5.71% at 0.7 and 81.16 / 8.74% from the words alone; single questions, refusals, not
# covered and small talk do not change (the weight only moves the passage within the chosen
# section).
FOLLOW_ALONE_WEIGHT = 0.5
# A topic the article leaves out ([not_covered]: doses, costs, other skin conditions ...) is
# "not covered" unless the ranker is sure of an answer to the message itself (at least
# RULE_SURE_AT, its own section or retrieval's): a rule may not refuse what the model is sure
# of ("I have lupus ... do JAK inhibitors lower white blood cells?"). Out of fold (6 author
# folds, 81 authors, 7,120 answerable, the same fold models, 2026-12-02): against a rule
# always refusing, right / wrong / refused 81.6 / 5.6 / 12.8 -> 82.4 / 5.7 / 12.0, not covered
# refused 93.5% -> 93.3% (three more answered: "what percent of people on dupi get pink eye"
# gets the passage on pink eye); with the ranker's own section alone 82.1 / 5.7 / 12.3 and
# 93.5%; at 0.8, its own section alone: 82.3 / 5.7 / 12.1 and 93.3%.
RULE_SURE_AT = 0.9
# A first question the answer model reads as not covered with at least NOT_COVERED_AT is "not
# covered" though retrieval found a passage it trusts and the ranker would keep it: "how
# often do i need blood tests on cyclosporine, every month?" or "where on the body should i
# inject dupixent" share the article's words, not its facts. Out of fold (6 author folds, 103
# authors, the same fold models, fourteenth session): at 0.7, not covered refused 93.5% ->
# 95.2% (40 more of 2,329), right answers 7,991 -> 7,982 of 9,236, wrong 353 -> 352; at 0.8
# 34 more refused for 4 fewer right, at 0.6 40 for 21. With sets EM-EQ added (108 authors,
# 9,702 answerable, 2,492 not covered): 0.7 refused 47 more for 10 fewer right, 0.8 41 more
# for 4 fewer right. Not where retrieval's passage holds nearly every word of the question
# (NOT_COVERED_COVERAGE): the model, taught "is there a generic version" and "how often do i
# need blood tests ... every month?" as not covered, read "is there a version i can take by
# IV" and "how often do I need checkups" so too, and the article names both. At 0.8 with it
# (same folds): not covered refused 93.4% -> 94.9% (38 more), right 8,428 -> 8,427, wrong
# unchanged; at 0.99 38 more for 4 fewer right, at 0.9 36 for 1. Not overruled where the
# ranker is sure of a section (0.9): no such question reached it. Not for follow-ups: read
# with what they continue, the same test at 0.8 refused 2 more not-covered follow-ups for 1
# fewer right.
NOT_COVERED_AT = 0.8
NOT_COVERED_COVERAGE = 0.95
# Where one of retrieval's best UNKNOWN_WITHIN sections has no labelled questions (an
# article added without them), retrieval decides, not the ranker or the answer model: they
# cannot know that section, so their favourite among the others is no evidence against it.
# With every example of a third of the sections withheld in turn (bench/answer_quality.py
# `sections_without_examples`, 6 author folds, 9,872 answerable, fourteenth session), those
# sections' questions right / wrong: retrieval alone 50.2 / 16.9, the engine deciding unless
# retrieval's first section is unknown (before) 49.9 / 17.7, within its best two 49.9 / 17.3,
# three 17.1, five 49.9 / 16.9. Where every section has examples it changes nothing.
UNKNOWN_WITHIN = 5

SENTENCE = re.compile(r"(?<=[.!?])\s+")  # where the article's sentences end


class Reading(NamedTuple):
    """The text the answer model reads for a message (the message, or a follow-up's
    follow_text) and its buckets when they were computed already: the passage model reads
    the same features, so a message is hashed once. A follow-up's passage is also chosen from
    its own words (`alone`, FOLLOW_ALONE_WEIGHT)."""
    text: str
    counts: dict[int, int] | None = None
    alone: "Reading | None" = None  # a follow-up's own words, where `text` adds its topic


class QuestionView(NamedTuple):
    """What retrieval makes of a question, as the ranker reads it (its candidates' features,
    ranker.candidates, take all but `read`). A first question has only the first three."""
    found: dict[str, Found]  # the sections retrieval found (ranker.found_sections)
    bar: float  # the coverage an answer to it needs (Bot._bar)
    words: int  # its length in words
    previous: str | None = None  # a follow-up's: the id of the section answered last
    cues: tuple | None = None  # ... whether it names a medicine, a person, nothing (ranker.CUES)
    read: str | None = None  # ... the text the answer model reads (follow_text)

    def candidates(self, probs: dict[str, float], alone: dict[str, float] | None = None
                   ) -> list[tuple[str, list[float]]]:
        """Each candidate section and its features for the ranker (ranker.candidates);
        `alone`: a follow-up's probabilities read alone."""
        context = _context_words(self.read, self.words)
        return candidates(probs, self.found, self.bar, self.words, self.previous, self.cues,
                          alone, context)

    @property
    def follows(self) -> bool:
        """Whether it continues a conversation (its earlier turns left something to follow)."""
        return self.read is not None


@dataclass
class Conversation:
    """The bot's own words and steering patterns, from corpus/conversation.toml."""
    disclaimer: str
    welcome: str
    no_answer: str
    not_covered_reply: str
    clarify: str
    suggestions: list[str]
    clarify_suggestions: list[str]
    needs_medicine: AnyOf
    refers_back: re.Pattern
    plural_pointers: frozenset[str]
    refers_to_person: re.Pattern
    people: frozenset[str]
    places: Places
    definition: re.Pattern
    not_covered: list[tuple[str, re.Pattern]]
    not_covered_except: dict[str, list[str]]
    two_medicines: tuple[str, re.Pattern]
    off_topic: AnyOf
    smalltalk: list[tuple[str, list[re.Pattern]]]
    smalltalk_replies: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> "Conversation":
        d = load_toml(path)
        try:
            talk = d["smalltalk"]
            replies = talk["replies"]
            kinds = [(k, compile_patterns(path, f"smalltalk.{k}", v)) for k, v in talk.items()
                     if k != "replies"]
            missing = [k for k, _ in kinds + [("other", None)] if k not in replies]
            if missing:
                raise CorpusError(path, 0, f"smalltalk.replies lacks {', '.join(missing)}")
            kept = d.get("not_covered_except", {})
            if not isinstance(kept, dict):
                raise CorpusError(path, 0, "[not_covered_except] must be a table: "
                                           "topic = [phrases of the article]")
            return cls(
                disclaimer=_text(path, d, "disclaimer"), welcome=_text(path, d, "welcome"),
                no_answer=_text(path, d, "no_answer"),
                not_covered_reply=_text(path, d, "not_covered_reply"),
                clarify=_text(path, d, "clarify"), suggestions=_texts(path, d, "suggestions"),
                clarify_suggestions=_texts(path, d, "clarify_suggestions"),
                needs_medicine=compile_any(path, "needs_medicine", d["needs_medicine"]),
                refers_back=compile_patterns(path, "refers_back", [d["refers_back"]])[0],
                plural_pointers=frozenset(_texts(path, d, "plural_pointers")),
                refers_to_person=compile_patterns(path, "refers_to_person", [d["refers_to_person"]])[0],
                people=frozenset(_texts(path, d, "people")), places=Places.load(path, d["places"]),
                definition=compile_patterns(path, "definition", [d["definition"]])[0],
                not_covered=[(topic, compile_patterns(path, f"not_covered.{topic}", [p])[0])
                             for topic, p in d["not_covered"].items()],
                not_covered_except={topic: [fold(x) for x in _texts(path, kept, topic)]
                                    for topic in kept},
                off_topic=compile_any(path, "off_topic", d["off_topic"]),
                two_medicines=(d["two_medicines"]["topic"], compile_patterns(
                    path, "two_medicines.pattern", [d["two_medicines"]["pattern"]])[0]),
                smalltalk=kinds, smalltalk_replies=replies,
            )
        except KeyError as exc:
            raise CorpusError(path, 0, f"missing {exc.args[0]!r}") from None


def _text(path: Path, table: dict, key: str) -> str:
    """A string of conversation.toml, or a CorpusError naming it: a number or a list where
    the bot's words belong would otherwise surface as a reply nobody can read."""
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise CorpusError(path, 0, f"'{key}' must be a non-empty string")
    return value


def _texts(path: Path, table: dict, key: str) -> list[str]:
    """A list of strings of conversation.toml, or a CorpusError naming it: a lone string
    (`people = "children"`) would otherwise be read as the set of its letters."""
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CorpusError(path, 0, f"'{key}' must be a list of non-empty strings")
    return list(value)


def follow_text(text: str, before: State, names_medicine: bool) -> str:
    """A follow-up as the answer model reads it: after what was last asked about (the
    conversation's topic words), so "and dupixent?" after "my son is 9, could he take
    rinvoq" is read with "son 9 take"; one that names no medicine ("is that safe for her")
    also after the medicine being discussed. The model itself learns from conversations what
    such a pair asks (chatbot.training reads labelled follow-ups the same way). Out of fold
    (6 author folds, 2026-12-02), the medicine for one that names none took follow-ups from
    68.6/16.6/14.9 to 70.1/14.4/15.4 right/wrong/refused."""
    if not names_medicine and before.entity:
        text = f"{before.entity} {text}"
    return f"{before.topic} {text}" if before.topic else text


def _context_words(read: str | None, own: int) -> int:
    """How many words a follow-up's reading (follow_text) adds to its `own` words: the
    conversation's topic and medicine, a story's many words or none (ranker.candidates)."""
    return max(0, len(words(read)) - own) if read else 0


def fold(text: str) -> str:
    """The message as lower-case words joined by spaces: what the safety and topic patterns read."""
    return " ".join(words(text))


class Bot:
    def __init__(self, settings: Settings, judge_risk: bool = True):
        """Loads the corpus folder and builds the index once; raises CorpusError on bad files.
        `judge_risk=False` leaves the risk model out (the phrase rules alone judge): for a bot
        that only reads questions for `chatbot train`, which would otherwise fit the risk model
        of edited examples once here and again in training."""
        folder = settings.corpus_dir
        self.settings = settings
        self.documents: list[Document] = load_corpus(folder)
        self.passages: list[Passage] = [p for d in self.documents for p in d.passages]
        self.lead_ins = lead_ins(self.passages)
        self._order = {p.id: i for i, p in enumerate(self.passages)}  # the articles' order
        stem_cache = StemCache(settings.cache_dir)
        known = stem_cache.load()
        self.analyzer = Analyzer(load_word_list(folder / "stopwords.txt"), known)
        self.lexicon = Lexicon.load(folder / "lexicon.txt", self.analyzer.stem, self.analyzer.stopwords)
        self.safety = Safety.load(folder / "safety.toml",
                                  model_for(folder, settings.cache_dir) if judge_risk else None,
                                  settings.cache_dir)
        self._answers: AnswerModel | None | bool = False  # loaded when first needed
        self.talk = Conversation.load(folder / "conversation.toml")
        self.index = Index(self.passages, self.analyzer, self.lexicon)
        article_words = {w for p in self.passages for w in words(p.section + " " + p.text)}
        speller = SpellingCorrector.for_vocabulary(article_words, set(self.lexicon.plain_words),
                                                   is_english, set(self.lexicon.drug_names))
        unknown = sorted(self.talk.people - {e.name for e in self.lexicon.entries})
        if unknown:
            raise CorpusError(folder / "conversation.toml", 0,
                              f"people names {', '.join(unknown)}, not the first phrase of a "
                              "lexicon entry")
        self.highlighter = Highlighter(self.analyzer.stem)
        self._about: dict[tuple[str, ...], tuple[str, ...]] = {}  # by medicine: _sections_about
        self._named_in: dict[str, tuple[str, ...]] = {}  # by section id: _section_medicines
        self.parser = QueryParser(self.analyzer, self.lexicon, speller, self.talk.people)
        # the words of this corpus and lexicon only (no question has been asked yet): another
        # corpus loaded earlier leaves nothing behind to slow every later start
        stems = self.analyzer.stems
        if stems.keys() != known.keys():
            stem_cache.save(stems)
        self.analyzer.freeze()  # from here on every word is a patient's: none is kept
        self.min_confidence = settings.min_confidence
        self.sections = [s for d in self.documents for s in d.sections]
        # a tapped suggestion is a section question, word for word: answer from that section
        self.section_by_question = {fold(s): s for s in self.sections}
        self.section_by_id = {section_id(s): s for s in self.sections}
        self.id_of_section = {s: i for i, s in self.section_by_id.items()}
        self.passage_index = {p.id: i for i, p in enumerate(self.passages)}
        self.numbers = {"emergency_number": settings.emergency_number,
                        "poison_control_number": settings.poison_control_number,
                        "crisis_line": settings.crisis_line}

    def prepare(self) -> "Bot":
        """Builds what `ask` builds only on demand; a long-running server calls this at start."""
        self.parser.speller.prepare()
        self.safety.prepare()
        _ = self.answers
        # worked out now, not at the first patient who needs them: how fast a reply comes
        # back then says nothing about what was asked before (and later replies are faster)
        for passage in self.passages:
            self.highlighter.parts(reply_text(passage, self.lead_ins))
        for entry in self.lexicon.entries:
            if entry.is_entity:
                self._sections_about((entry.name,))
        for section in self.section_by_id:  # what "the first one you named" points into
            self._section_medicines(section)
        return self

    def public_questions(self) -> list[str]:
        """What every patient is offered word for word (the suggestion chips and the
        article's own questions): the only messages whose replies are cached. Their replies
        are public, and are all cached at start, so how fast one comes back says nothing
        about what anyone else has asked (see chatbot.server.chat.ReplyFrames)."""
        texts = self.talk.suggestions + self.talk.clarify_suggestions + list(self.sections)
        return list(dict.fromkeys(texts))

    @property
    def answers(self) -> AnswerModel | None:
        """The answer model, loaded the first time retrieval would refuse (most one-question
        `ask` runs never need it)."""
        if self._answers is False:
            self._answers = answer_model_for(self.settings.corpus_dir, self.settings.cache_dir,
                                             self.question_view)
        return self._answers

    @answers.setter
    def answers(self, model: AnswerModel | None) -> None:
        self._answers = model

    @property
    def passage_count(self) -> int:
        return len(self.passages)

    def welcome(self) -> dict:
        """The greeting a chat opens with."""
        return {"text": self.talk.welcome, "disclaimer": self.talk.disclaimer,
                "suggestions": self.talk.suggestions[:MAX_SUGGESTIONS]}

    # -- the one entry point -------------------------------------------------

    def reply(self, text: str, state: State | Mapping | None = None) -> tuple[dict, State]:
        """The reply object for one message and the conversation state to pass next time.
        `state` is the State this returned last time, or a client's context (a mapping,
        read with Bot.state), or None for a new conversation."""
        if not isinstance(state, State):
            state = self.state(state)
        text = text[:MAX_SAFE_FRAME] if isinstance(text, str) else ""
        return self._reply(text, state)

    def state(self, context: Mapping | None) -> State:
        """A client's context as a State: a medicine the lexicon knows, a short topic, a
        section of the article and people conversation.toml names are kept, anything else (a
        stale, tampered or foreign object) is dropped."""
        if not isinstance(context, Mapping):
            return START
        entity, topic, section = context.get("entity"), context.get("topic"), context.get("section")
        person, concern = context.get("person"), context.get("concern")
        people = person.split(", ") if isinstance(person, str) else []
        named = context.get("named")
        named = tuple(named.split(", ")) if isinstance(named, str) else ()
        return State(entity if isinstance(entity, str) and self.lexicon.entity(entity) else None,
                     topic[:MAX_TOPIC_CHARS] if isinstance(topic, str) and topic.strip() else None,
                     section if isinstance(section, str) and section in self.section_by_id else None,
                     person if people and set(people) <= self.talk.people else None,
                     concern if concern in ("crisis", "emergency") else None,
                     concern in ("crisis", "emergency") and context.get("concern_sure") is True,
                     named if 0 < len(named) <= MAX_NAMED and all(
                         self.lexicon.entity(m) for m in named) else ())

    def carries_risk(self, text: str, state: State | Mapping | None = None) -> bool:
        """Whether a message the server would turn away (too long, too many) must be answered
        anyway: it carries a risk of its own (read knowing the help shown earlier in the
        conversation, as `reply` reads it). Whoever may be at risk is helped before any limit
        turns them away, with the reply `reply` gives (graded: sure, or with a notice)."""
        if not isinstance(state, State):
            state = self.state(state)
        text = text[:MAX_SAFE_FRAME] if isinstance(text, str) else ""
        return bool(self.safety.assess(text, fold(text), None, state.concern).level)

    def _reply(self, text: str, state: State) -> tuple[dict, State]:
        """Safety first, on the whole message; then the answer, with a notice if risk is doubtful."""
        folded = fold(text)
        # the model reads every script; the rest of the engine only Latin letters, so a message
        # in Korean or Chinese is judged for risk before it is found to have no words to answer
        # the risk model and the answer model read the same features: computed once, where
        # either may read them (neither does as training replays a conversation's earlier
        # turns for retrieval's view: Bot.question_view)
        readers = self.safety.model is not None or self._answers is not None
        counts = buckets(text) if readers and len(text) <= MAX_INPUT_CHARS else None
        found = self.safety.assess(text, folded, counts, state.concern)
        if not found.level and state.concern_sure:  # the crisis or emergency reply was given
            # earlier: its notice stays on every later reply ("sorry. does mtx cause mouth
            # sores" after pills counted); on the 2,844 ordinary multi-turn conversations of
            # the examples no earlier turn had it, so no ordinary last turn gets the notice
            found = Assessment(state.concern, False, self.safety.language(text))
        if found.level:  # later messages are judged knowing help was shown
            state = replace(state, concern=found.level, concern_sure=found.sure or (
                state.concern_sure and found.level == state.concern))
        if found.sure:
            return self._safety(found), state
        if len(text) > MAX_INPUT_CHARS:
            text = text[:MAX_INPUT_CHARS]
            folded = fold(text)
        if folded:
            reply, state = self._respond(text, folded, state, counts)
            if reply["source"]:  # what was answered, for the next message to follow up on
                state = replace(state, section=self.id_of_section[reply["source"]["section"]])
        else:  # no word of Latin letters: another script, or emoji alone ("👍" after an
            # answer), which is small talk where the model is sure of it and no risk was found;
            # punctuation or digits alone ("#$%@", "...") are not
            emoji = not found.level and not any(c.isalpha() for c in text) \
                and any(unicodedata.category(c) in EMOJI for c in text)
            reply = (emoji and self._learned_smalltalk(folded, self._probabilities(text, counts))) \
                or self._message("no_answer", self.talk.no_answer, 0.0, self.talk.suggestions)
        if found.level:
            reply["safety"] = self.safety.notice(found, self.numbers)
        return reply, state

    def _safety(self, found: Assessment) -> dict:
        """The crisis or emergency reply, with a note that fits it and the numbers as links."""
        text, note = self.safety.reply(found, self.numbers)
        reply = self._message(found.level, text, 1.0, [])
        reply["disclaimer"] = note
        reply["safety"] = self.safety.notice(found, self.numbers)
        return reply

    def _respond(self, text: str, folded: str, state: State,
                 counts: dict[int, int] | None = None) -> tuple[dict, State]:
        """Everything after safety: small talk, topics left out, then retrieval."""
        opening = state.empty  # no earlier medicine or topic to read this message with
        section = self.section_by_question.get(folded)
        if section:  # a tapped suggestion is a section's question: always that section's answer
            return self._section_answer(section, text), state
        small = self._smalltalk(folded)
        if small:
            return self._message("smalltalk", self.talk.smalltalk_replies[small], 1.0,
                                 self.talk.suggestions), state

        question = self._question_part(text) if opening else text
        if question != text:  # answered from its question, if that has an answer
            reply, after = self._respond(question, fold(question), state)
            if reply["kind"] == "answer":
                return reply, after

        if self.talk.off_topic.search(folded):
            # nothing in the article, but small talk where the model is sure of it ("tell me a
            # joke" is asked for in the small talk of many authors)
            small = self._learned_smalltalk(folded, self._probabilities(text, counts))
            return small or self._message("no_answer", self.talk.no_answer, 0.0,
                                          self.talk.suggestions), state

        if not opening:  # "is the first one ok for the baby?": the medicine it points at
            pointed = self._pointed(text, folded, state)
            if pointed != text:
                text, folded, counts = pointed, fold(pointed), None
        before = state
        query, state, cues = self._read(text, folded, state)
        alone = None  # the answer model's reading of the message alone, once a step needs it
        if not query.entities:
            # "lol ok", "sweet thx" after an answer: read alone, the model is sure it is small
            # talk; read with the conversation's topic, it would be the last question again.
            # Out of fold (6 author folds), follow-ups that are small talk 13 of 16 -> 16 of
            # 16, and the answers unchanged (one wrong one refused instead). A first message
            # too ("thank u so much, that actually helped a lot" was given a passage the ranker
            # liked): out of fold (81 authors, same fold models, 2026-12-02) small talk 90.8%
            # -> 93.2%, every answerable and not-covered question's reply unchanged.
            alone = self._probabilities(text, counts)
            small = self._learned_smalltalk(folded, alone)
            if small:
                return small, before

        ruled, searched = self._left_out(query, folded, state)
        if ruled is None:
            topic, together = self.talk.two_medicines
            if len({c.entity for c in query.concepts if c.drug}) >= 2 and together.search(folded):
                return self._not_covered(topic, query), state
            if not query.entities and not state.entity and self.talk.needs_medicine.search(folded):
                return self._message("clarify", self.talk.clarify, 0.5,
                                     self.talk.clarify_suggestions), state

        ranking, query = searched or self._search(query, folded, state)
        hits = ranking.hits
        short = not hits or hits[0].coverage < self._bar(text)  # retrieval would refuse
        # the answer model read once, where a ranker or the rescue below needs it: a
        # follow-up, read with the conversation's medicine and topic, has a ranker of its own
        # (learned from conversations), else it is left to retrieval's bar and the rescue
        follow_ranker = not opening and self.answers is not None and self.answers.follow_ranker
        # the model reads a follow-up with what it continues (follow_text)
        read = Reading(text if opening else follow_text(text, before, bool(cues[0])))
        read = read._replace(counts=counts) if read.text == text \
            else read._replace(alone=Reading(text, counts))
        if follow_ranker:
            alone = alone if alone is not None else self._probabilities(text, counts)
            if read.text != text:
                read = read._replace(counts=buckets(read.text))
                probs = self._probabilities(read.text, read.counts)
            else:
                probs = alone
        elif opening or short:
            probs = alone if alone is not None else self._probabilities(text, counts)
        else:
            probs = None
        ranked = self._ranked(text, folded, query, ranking, probs, None if opening else before,
                              cues, read, ruled is not None, alone) \
            if opening or follow_ranker else None
        if ruled is not None and not (ranked and ranked["kind"] == "answer"
                                      and ranked["confidence"] >= RULE_SURE_AT):
            return self._not_covered(ruled, query), state
        if ranked is not None:
            return ranked, state
        if short:
            learned = self._learned_answer(query, ranking, probs, read) \
                or self._learned_smalltalk(folded, probs)
            if learned:
                return learned, state
            confidence = hits[0].coverage if hits else 0.0
            return self._message("no_answer", self.talk.no_answer, round(confidence, 3),
                                 self._covered_suggestions(query)), state
        return self._answer(hits, query, read, ranking), state

    # -- steps ---------------------------------------------------------------

    def _read(self, text: str, folded: str, state: State) -> tuple[Query, State, tuple]:
        """The message's query, read with the conversation's medicine, person and topic where
        it continues them; the state with what this message names; and the follow-up ranker's
        cues (ranker.CUES): whether it names a medicine, points at a person ("he"), or
        names nothing at all."""
        query = self.parser.parse(text)
        same_person = not query.entities and self.talk.refers_to_person.search(folded)
        nothing_new = not query.concepts  # "what can I do about it?"
        cues = (float(bool(query.entities)), float(bool(same_person)), float(nothing_new))
        if state.topic and (same_person or nothing_new or query.entities
                            and (not query.topic or not state.entity)):
            # "and methotrexate?" after "side effects of prednisone": same question, new medicine;
            # "can I take prednisone?" after "I have diabetes": a medicine for that situation;
            # "could he take these?" after "my son is 6": still about him
            query = query.extended(self.parser.topic_concepts(state.topic,
                                                              bool(same_person or nothing_new)))
        if state.person and not query.person:
            # "what are the side effects" then "and dupixent?" after "my son is 9 ...": still
            # about a child, though the topic carried is now the side effects. Out of fold (6
            # author folds, 43 authors, 2026-12-02), follow-ups right 66.4% -> 66.7%, wrong
            # 15.7% -> 15.2%; the model reading the person's words too did worse (66.1%)
            carried = {c.person for c in query.concepts}
            query = query.extended([c for c in self.parser.topic_concepts(
                state.person.replace(",", " "), bool(same_person)) if c.person not in carried])
        if query.entities and not self._asks_class_of(query, folded, state):
            # "is cyclosporine an immunosuppressant?": the medicine, not its class, is discussed
            drugs = [c.entity for c in query.concepts if c.drug and not c.from_context]
            state = replace(state, entity=(drugs or query.entities)[-1],
                            named=tuple(dict.fromkeys(state.named + tuple(drugs)))[-MAX_NAMED:])
        if query.topic:
            state = replace(state, topic=" ".join(c.word for c in query.topic)[:MAX_TOPIC_CHARS])
        if query.person:
            state = replace(state, person=", ".join(query.person))
        return query, state, cues

    def _asks_class_of(self, query: Query, folded: str, state: State) -> bool:
        """Whether a message names only a class while pointing back at the medicine being
        discussed ("whats mycophenolate" then "is it a biologic?"): the class is asked about,
        the medicine stays the one discussed, so "side effects?" next is still about it."""
        if not state.entity or any(c.drug for c in query.concepts if not c.from_context):
            return False
        entry = self.lexicon.entity(state.entity)
        if not entry or entry.group != "drugs":
            return False
        pointers = {m.group(0) for m in self.talk.refers_back.finditer(folded)}
        # "they" and "them" may be the class itself ("biologics, are they safer?")
        return bool(pointers - self.talk.plural_pointers)

    def _pointed(self, text: str, folded: str, state: State) -> str:
        """A follow-up naming no medicine that points at one by place ("the first one", "the
        other one you said": conversation.toml's [places]) with the medicine's name in place
        of the pointer, so every later step reads it as if the patient had named it; else the
        message as it is. The list pointed into: the medicines the patient named (State.named),
        or the ones in the section answered last where the pointer says the bot named them
        or the patient named fewer than two."""
        places = self.talk.places
        found = places.find(folded)
        if found is None or self.parser.parse(text).entities:
            return text
        match, position = found
        listed = state.named
        if (len(listed) < 2 or places.by_bot.search(folded)) and state.section:
            listed = self._section_medicines(state.section) or listed
        name = places.choose(position, listed, state.entity)
        return replaced(text, match.group(0), name) if name else text

    def _section_medicines(self, section: str) -> tuple[str, ...]:
        """The medicines a section names, in the article's order (what "the second one you
        said" after its answer points into)."""
        named = self._named_in.get(section)
        if named is None:
            title = self.section_by_id[section]  # read a sentence at a time, as questions are
            said = [s for p in self.passages if p.section == title for s in SENTENCE.split(p.text)]
            named = tuple(dict.fromkeys(c.entity for s in said
                                        for c in self.parser.parse(s).concepts if c.drug))
            self._named_in[section] = named
        return named

    def _section_answer(self, section: str, text: str) -> dict:
        """The section's best passage for its own question (its first when none ranks)."""
        query = self.parser.parse(text)
        hits = self.index.rank(query).section(section, on_topic=False)
        if not hits:
            hits = [Hit(next(p for p in self.passages if p.section == section), 0.0, 1.0)]
        return self._answer(hits, query)

    def _probabilities(self, text: str, counts: dict[int, int] | None) -> dict[str, float] | None:
        """The answer model's probability of each class for this message (None without a
        model), read once and handed to each step that weighs it."""
        if self.answers is None:
            return None
        return dict(zip(self.answers.classes, map(float, self.answers.probabilities(text, counts))))

    def _answerable(self, on_topic: list[Hit], query: Query, bridge: bool = False) -> list[Hit]:
        """Of a section's passages on the medicine asked about (Ranking.section), those that may
        answer this query: leaving out no word of the question the article uses; if none and
        `bridge`, those leaving out no item of the section's lists that it names (BRIDGE_AT)."""
        strict = [h for h in on_topic
                  if not self.index.contradicts(query, self.passage_index[h.passage.id])]
        if strict or not bridge:
            return strict
        return [h for h in on_topic if not self.index.contradicts(
            query, self.passage_index[h.passage.id], within_section=True, listed=True)]

    def _learned_answer(self, query: Query, ranking: Ranking, probs, read: Reading) -> dict | None:
        """The answer model's section, when retrieval found no passage it trusts and the model
        is sure of one (ANSWER_AT): slang, shorthand and stories that share few words with
        the article. The model reads only this message, so it names the section; it answers
        only where a passage of it may answer the query (_answerable), the passage chosen among
        the section's (_answer). A follow-up's query carries the medicine named earlier ("AEs?"
        after "what is methotrexate": its side effects).
        Not where retrieval's best section is one the model has no examples of (an article
        added without them): the model cannot know that section, so its favourite among the
        others is no evidence against it."""
        hits = ranking.hits
        if probs is None or self._unknown_found(ranking, probs):
            return None
        best = max(probs, key=probs.get)
        section = self.section_by_id.get(best)
        if section is None or probs[best] < ANSWER_AT:
            return None
        hits = self._answerable(ranking.section(section), query)
        if not hits:
            return None
        reply = self._answer(hits, query, read, ranking)
        reply["confidence"] = round(probs[best], 3)
        return reply

    def question_view(self, text: str, before: tuple[str, ...] = ()) -> QuestionView:
        """What retrieval makes of a question, as the ranker reads it (a QuestionView). The
        earlier turns of a follow-up (`before`) are answered without the answer model (the
        view trains it)."""
        state = START
        if before:
            model, self._answers = self._answers, None
            try:
                for turn in before:
                    _, state = self._reply(turn, state)
            finally:
                self._answers = model
        folded = fold(text)
        if not state.empty:
            text = self._pointed(text, folded, state)
            folded = fold(text)
        query, state_now, cues = self._read(text, folded, state)
        ranking, query = self._search(query, folded, state_now)
        view = QuestionView(self._found(ranking, query), self._bar(text), len(words(text)))
        if state.empty:
            return view
        return view._replace(previous=state.section, cues=cues,
                             read=follow_text(text, state, bool(cues[0])))

    def _ranked(self, text: str, folded: str, query: Query, ranking: Ranking,
                probs, before: State | None = None, cues: tuple = (),
                read: Reading | None = None, ruled: bool = False,
                alone: dict[str, float] | None = None) -> dict | None:
        """The reply the learned ranker chooses, or None to leave it to retrieval's bar.

        Where retrieval clears its bar, its passage stands unless the ranker is sure of
        another section (OVERRULE_AT: that section answers) or all but rules its section
        out (VETO_BELOW: then as if retrieval had not cleared it). Where it does not, the ranker's
        best section answers from RANK_AT, else small talk the model is sure of, else "not
        covered"; and a first question the answer model reads as not covered (NOT_COVERED_AT)
        is not covered unless retrieval's passage holds nearly all of its words
        (NOT_COVERED_COVERAGE). A section the ranker chooses answers only from a passage that
        may answer (_answerable). None without a ranker (a corpus without labelled
        questions), or when one of retrieval's best sections has no labelled questions (an
        article added without examples, _unknown_found):
        retrieval decides. A follow-up (`before`: the state the conversation was in) is
        scored by the follow-up ranker, with the section answered last as a candidate, and
        its thresholds are FOLLOW_RANK_AT and FOLLOW_VETO_BELOW. `read`: the text the model
        reads (follow_text), which also chooses the passage (_answer)."""
        model = self.answers
        if probs is None or model is None:
            return None
        weights = model.ranker if before is None else model.follow_ranker
        if not weights:
            return None
        hits = ranking.hits
        top = self.id_of_section[hits[0].passage.section] if hits else None
        if self._unknown_found(ranking, model.classes):
            return None
        bar = self._bar(text)
        cleared = bool(hits) and hits[0].coverage >= bar
        own = len(words(text))
        scored = scores(weights, candidates(probs, self._found(ranking, query), bar, own,
                                            before and before.section,
                                            cues if before is not None else None,
                                            alone if before is not None else None,
                                            _context_words(read and read.text, own)))
        chosen = max(scored, key=scored.get) if scored else None
        if before is None and probs.get(NOT_COVERED, 0.0) >= NOT_COVERED_AT \
                and not (hits and hits[0].coverage >= NOT_COVERED_COVERAGE):
            return self._refusal(folded, query, scored.get(chosen, 0.0), probs, scored)
        # a follow-up's ranker vetoes from FOLLOW_VETO_BELOW, also where retrieval's section
        # is its own favourite: then it is sure of no section
        veto = VETO_BELOW if before is None else FOLLOW_VETO_BELOW
        if cleared and (chosen != top or before is not None) and scored.get(top, 0.0) < veto \
                and hits[0].coverage < VETO_COVERAGE:
            cleared = False  # the ranker all but rules retrieval's section out: it decides
        if cleared:
            if ruled and chosen == top and scored[top] >= RULE_SURE_AT:
                # a topic rule stands unless the ranker is sure of retrieval's answer too
                reply = self._answer(hits, query, read, ranking)
                reply["confidence"] = round(scored[top], 3)
                return reply
            if chosen is None or chosen == top or scored[chosen] < OVERRULE_AT:
                return None
        elif chosen is None or scored[chosen] < (RANK_AT if before is None else FOLLOW_RANK_AT):
            return self._refusal(folded, query, scored.get(chosen, 0.0), probs, scored)
        section, bridge = self.section_by_id.get(chosen), scored[chosen] >= BRIDGE_AT
        inside = self._answerable(ranking.section(section), query, bridge) \
            or self._answerable(self._unnamed(ranking, section), query, bridge)
        if not inside:  # no passage of it may answer: retrieval's stands, else "not covered"
            return None if cleared else self._refusal(folded, query, 0.0, probs, scored)
        reply = self._answer(inside, query, read or Reading(text), ranking)
        reply["confidence"] = round(scored[chosen], 3)
        return reply

    def _unnamed(self, ranking: Ranking, section: str | None) -> list[Hit]:
        """A section's passages that name no medicine, best first: where none of the passages
        on the medicine asked about (Ranking.section) may answer, in the section the ranker
        chose, these speak of every medicine ("My mother takes cyclosporine. Why does it take so
        long to find the right eczema medicine for her?": the section on why names none).
        Out of fold (6 author folds, 192 authors, 18,384 answerable, twenty-seventh session):
        right / wrong / refused 90.5 / 3.3 / 6.2% -> 91.1 / 3.3 / 5.6%, not covered refused
        95.8% -> 95.3%; read with the bridge whatever the ranker's score, 91.4 / 3.5 / 5.1%
        and 95.1%."""
        return [h for h in ranking.section(section, on_topic=False)
                if not self.index.names_a_drug[self.passage_index[h.passage.id]]]

    def _unknown_found(self, ranking: Ranking, known) -> bool:
        """Whether retrieval's best UNKNOWN_WITHIN sections include one the answer model has
        no examples of (`known`: its classes), as an article added without them: the model
        cannot weigh that section, so its favourite among the others is no evidence against
        it, and retrieval decides."""
        seen: set[str] = set()
        for h in ranking.hits:
            if h.passage.section not in seen:
                if self.id_of_section[h.passage.section] not in known:
                    return True
                seen.add(h.passage.section)
                if len(seen) == UNKNOWN_WITHIN:
                    break
        return False

    def _found(self, ranking: Ranking, query: Query) -> dict[str, Found]:
        """The sections retrieval found (ranker.found_sections), each with whether its best
        passage leaves out no word of the question that its section uses (Index.contradicts)."""
        def whole(hit) -> bool:
            return not self.index.contradicts(query, self.passage_index[hit.passage.id],
                                              within_section=True)
        return found_sections(ranking.hits, self.id_of_section.__getitem__, whole)

    def _refusal(self, folded: str, query: Query, confidence: float, probs,
                 scored: dict[str, float] | None = None) -> dict:
        """What the ranker gives where no section answers: small talk the model is sure of,
        else "not covered" with questions the article does cover, first those of the
        sections the ranker gave at least SUGGEST_AT (`scored`): one tap answers a question
        it was too unsure of to answer itself."""
        likely = [self.section_by_id[s] for s, p in sorted((scored or {}).items(),
                                                           key=lambda sp: -sp[1])
                  if p >= SUGGEST_AT and s in self.section_by_id]
        suggestions = list(dict.fromkeys(likely + self._covered_suggestions(query)))
        return self._learned_smalltalk(folded, probs) or self._message(
            "no_answer", self.talk.no_answer, round(confidence, 3), suggestions)

    def _question_part(self, text: str) -> str:
        """The message without its sentences the answer model reads as small talk
        (SMALLTALK_AT), where some are and some are not: "Good evening, I hope this finds you
        well. I start methotrexate on Monday, which side effects should I expect? Many
        thanks, Margaret" is the question in its middle, which read whole is mostly
        greetings. The whole message where every sentence, or none, is small talk."""
        parts = sentences(text)
        if not parts or self.answers is None:
            return text
        kept = [p for p in parts if self._probabilities(p, None)["smalltalk"] < SMALLTALK_AT]
        return " ".join(kept) if kept and len(kept) < len(parts) else text

    def _learned_smalltalk(self, folded: str, probs) -> dict | None:
        """Small talk the patterns did not read ("ty fr", "hey im jess"), when the answer model
        is sure of it (SMALLTALK_AT): the reply of the first kind whose pattern appears in the
        message, else the general one ([smalltalk.replies] other)."""
        if probs is None or probs.get("smalltalk", 0.0) < SMALLTALK_AT \
                or folded and not self._has_words(folded):
            return None
        kind = next((k for k, patterns in self.talk.smalltalk
                     if any(pat.search(folded) for pat in patterns)), "other")
        return self._message("smalltalk", self.talk.smalltalk_replies[kind], 1.0,
                             self.talk.suggestions)

    def _has_words(self, folded: str) -> bool:
        """Whether the message has a word: of the article or the lexicon, of an English
        dictionary (two letters or more), or of the small talk the model learned from
        (AnswerModel.smalltalk_words). A keyboard smash ("zxcvb", "hjhjhj", "1234") has none:
        "not covered" however much its letters look like "lol" or "k" to the model."""
        chat = self.answers.smalltalk_words if self.answers is not None else None
        if chat is None:
            return True
        known = self.parser.speller.known  # the article's and the lexicon's words
        return any(w in chat or w in known or (len(w) > 1 and not w.isdigit() and is_english(w))
                   for w in words(folded))

    def _bar(self, text: str) -> float:
        """The coverage an answer to this message needs (see SHORT_WORDS)."""
        n = len(words(text))
        longer = min(max(n - SHORT_WORDS, 0) / (LONG_WORDS - SHORT_WORDS), 1.0)
        return self.min_confidence - LONG_ALLOWANCE * longer

    def _left_out(self, query: Query, folded: str, state: State
                  ) -> tuple[str | None, tuple[Ranking, Query] | None]:
        """The topic the article leaves out that this message asks about ([not_covered] in
        corpus/conversation.toml: doses, costs ...; read in its asking sentences where it also
        tells a story, Query.asked), if any, but not one the article's confident best
        passage answers after all (_article_says); and the search when that needed it."""
        searched = None
        # the question's own sentences where a story comes with it. Out of fold (6 author
        # folds, 31,666 conversations, thirty-fourth session): right 20,493 -> 20,531, wrong
        # 769 -> 775, refused 1,216 -> 1,172, not covered answered 191 -> 195; single questions
        # of 200+ characters right 90.5 -> 92.3%
        asked = folded if query.asked is None else fold(query.asked)
        for topic, pattern in self.talk.not_covered:
            if not pattern.search(asked):
                continue
            if topic in self.talk.not_covered_except:
                searched = searched or self._search(query, folded, state)
                if self._article_says(topic, searched[0].hits):
                    continue
            return topic, searched
        return None, searched

    def _article_says(self, topic: str, hits: list[Hit]) -> bool:
        """Whether the article does answer this question on a topic it mostly leaves out: the
        confident best passage says one of the topic's exception phrases ("twice per day")."""
        return bool(hits) and hits[0].coverage >= self.min_confidence \
            and any(p in fold(hits[0].passage.text) for p in self.talk.not_covered_except[topic])

    def _not_covered(self, topic: str, query: Query) -> dict:
        """The honest "the article doesn't cover <topic>", with questions it does cover."""
        msg = self.talk.not_covered_reply.format(topic=topic)
        return self._message("no_answer", msg, 0.0, self._covered_suggestions(query))

    def _smalltalk(self, folded: str) -> str | None:
        """The kind of small talk when the message is only that ("thanks!", not "thanks, and mtx?")."""
        first, rest = None, folded
        for kind, patterns in self.talk.smalltalk:
            for p in patterns:
                if p.search(rest):
                    first = first or kind
                    rest = p.sub(" ", rest)
        if first and not any(self.analyzer.is_content(w) for w in rest.split()):
            return first  # "cool, thanks": the first kind found answers it
        return None

    def _search(self, query: Query, folded: str, state: State) -> tuple[Ranking, Query]:
        """Retrieval; a question naming no medicine is read as about the one discussed before,
        fully so when it points back at it ("is it safe long term?")."""
        # "what are biologics?" (one thing, asked what it is) is answered by the matching section
        definition = len(query.concepts) == 1 and bool(self.talk.definition.search(folded))
        query = replace(query, definition=definition)
        entity = state.entity
        if entity and not query.entities:
            referred = bool(self.talk.refers_back.search(folded))
            query = query.extended(self.parser.entity_concepts(entity, referred), [entity])
        return self.index.rank(query), query

    def _passage(self, hits: list[Hit], read: Reading | None,
                 ranking: Ranking | None = None) -> tuple[Hit, Hit | None]:
        """Which passage of the best hit's section answers: the best mix of the passage
        model's probability and retrieval's score (PASSAGE_WEIGHT) among the first hit and
        every passage of its section in the message's one search (`ranking`; those about
        another medicine too, scored lower), read from `read` (the text the answer model
        reads); the first hit without a passage model or a search (a tapped suggestion: its
        section's own question). Second, the runner-up where the mix is unsure (SECOND_AT),
        else None."""
        model = self.answers if read is not None else None
        if model is None or not model.extra.get("passages") or ranking is None:
            return hits[0], None
        section = ranking.section(hits[0].passage.section, on_topic=False)
        same = [hits[0]] + [h for h in section if h.passage != hits[0].passage]
        probs = self._passage_probabilities(model, read, [h.passage.id for h in same]) \
            if len(same) > 1 else None
        if probs is None:
            return hits[0], None
        low, high = min(h.score for h in same), max(h.score for h in same)
        span = (high - low) or 1.0
        mix = [PASSAGE_WEIGHT * p + (1 - PASSAGE_WEIGHT) * (h.score - low) / span
               for h, p in zip(same, probs)]
        best, second = sorted(range(len(same)), key=lambda i: -mix[i])[:2]
        return same[best], same[second] if mix[second] >= SECOND_AT * mix[best] else None

    @staticmethod
    def _passage_probabilities(model: AnswerModel, read: Reading, ids: list[str]
                               ) -> list[float] | None:
        """The passage model's probability of each passage in `ids` for the message as `read`;
        a follow-up's is the mix of its reading with the topic and alone (FOLLOW_ALONE_WEIGHT)."""
        probs = model.passage_probabilities(read.text, ids, read.counts)
        if probs is None or read.alone is None:
            return probs
        alone = model.passage_probabilities(read.alone.text, ids, read.alone.counts)
        w = FOLLOW_ALONE_WEIGHT
        return [(1 - w) * p + w * a for p, a in zip(probs, alone)]

    def _answer_text(self, best: Passage, second: Passage | None) -> str:
        """What the answer shows: the passage (reply_text) and, where `second` is given and
        both fit in MAX_ANSWER_WORDS, the runner-up too, the two in the article's order."""
        text = reply_text(best, self.lead_ins)
        if second is None:
            return text
        other = reply_text(second, self.lead_ins)
        if other in text:  # best leads in to it already
            return text
        if text in other:
            both = other
        else:
            first, last = (text, other) if self._order[best.id] < self._order[second.id] \
                else (other, text)
            both = first + "\n\n" + last
        return both if len(words(both)) <= MAX_ANSWER_WORDS else text

    def _answer(self, hits: list[Hit], query: Query, read: Reading | None = None,
                ranking: Ranking | None = None) -> dict:
        """The reply from the best passage of the best hit's section (_passage), with the
        sections of the other hits, then those around it, as suggestions."""
        chosen, second = self._passage(hits, read, ranking)
        best = chosen.passage
        related = []
        for h in hits[1:]:
            if h.passage.section != best.section and h.passage.section not in related:
                related.append(h.passage.section)
        for s in self.sections:  # fill from the sections around the answer
            if len(related) >= MAX_SUGGESTIONS:
                break
            if s != best.section and s not in related:
                related.append(s)
        text = self._answer_text(best, second.passage if second else None)
        reply = self._message("answer", text, round(chosen.coverage, 3), related[:MAX_SUGGESTIONS])
        doc, section, _ = best.id.split("/")
        reply["source"] = {"title": best.doc.title, "author": best.doc.author,
                           "section": best.section, "passage_id": best.id,
                           "url": f"/article/{doc}#{section}"}
        reply["highlights"] = self.highlighter.spans(text, query, self.index.weight)
        return reply

    def _covered_suggestions(self, query: Query) -> list[str]:
        """Questions the article does answer, about the medicine asked about when there is one."""
        out = list(self._sections_about(tuple(query.entities))) if query.entities else []
        for s in self.talk.suggestions:
            if s not in out:
                out.append(s)
        return out[:MAX_SUGGESTIONS]

    def _sections_about(self, entities: tuple[str, ...]) -> tuple[str, ...]:
        """The sections whose passages best answer the medicines' names alone, best first.
        Kept for one medicine (a lexicon entry, never a patient's words; Bot.prepare works
        out every one), searched for two or more."""
        found = self._about.get(entities)
        if found is None:
            hits = self.index.search(self.parser.parse(" ".join(entities)), k=10)
            found = tuple(dict.fromkeys(h.passage.section for h in hits))
            if len(entities) == 1:
                self._about[entities] = found
        return found

    def _message(self, kind: str, text: str, confidence: float, suggestions: list[str]) -> dict:
        return {"type": "reply", "kind": kind, "text": text, "disclaimer": self.talk.disclaimer,
                "confidence": float(confidence), "suggestions": list(suggestions)[:MAX_SUGGESTIONS],
                "source": None, "safety": None, "highlights": []}


def load_bot(settings: Settings | None = None) -> Bot:
    """A Bot over the configured corpus folder (CORPUS_DIR, default ./corpus)."""
    return Bot(settings or Settings.from_env())
