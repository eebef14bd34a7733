"""The learned ranker: which section answers a question, judged from retrieval and the answer
model together, with a probability that it is the right one.

Retrieval (BM25 over the article, with the lexicon's brands and abbreviations) knows the
article's words; the answer model (chatbot.core.answers) knows how patients ask. Neither is
enough alone: retrieval refuses a story or slang it shares few words with, the model cannot
see the medicine a follow-up points back to. For each question the candidate sections are
retrieval's best few and the model's best few; each is described by a handful of numbers
(FEATURES) and scored by a logistic regression trained on labelled questions, with the model's
probabilities taken from models that never saw the question's author (chatbot.training). The
best candidate is the answer when its probability reaches dialogue.RANK_AT, and it replaces
a passage retrieval was confident of only when sure of another section (OVERRULE_AT);
otherwise the article does not answer it. The weights live with the answer model
(corpus/models/answers.npz, `extra["ranker"]`), so answering needs numpy alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RETRIEVED = 5  # retrieval's best sections considered
MODELLED = 3  # the answer model's best sections considered
NOT_SECTIONS = ("no_answer", "smalltalk")
FEATURES = ("p_section", "log_p_section", "p_no_answer", "p_smalltalk", "model_top",
            "retrieval_top", "inverse_rank", "coverage", "relative_score", "on_topic",
            "top_coverage", "coverage_over_bar", "log_words", "top_coverage_over_bar",
            "complete")
# A follow-up's cues (Bot._read): it names a medicine ("and for adbry?"), it points at a
# person ("could he take it?"), it names nothing the article knows ("what about long term").
CUES = ("names_medicine", "points_at_person", "names_nothing")
# A follow-up's candidates have these too: is it the section answered last, that alone and
# with each cue (a linear model needs the pairs to weigh "the same section, a new medicine"),
# and the cues.
FOLLOW_UP_FEATURES = FEATURES + ("previous",) + tuple(f"previous_{c}" for c in CUES) + CUES \
    + ("p_alone", "alone_top", "p_alone_no_answer", "context", "p_section_context",
       "p_alone_context")
# ... and what the answer model makes of the follow-up alone, as if it were a first question
# ("His doctor brought up methotrexate. What side effects does it have?" after a story needs
# nothing of it): that reading's probability of the candidate, whether it is that reading's
# favourite, and its probability that the article does not answer. Out of fold (6 author
# folds, 89 authors, 7,962 answerable, 2026-12-02): follow-ups right / wrong / refused 74.9 /
# 7.1 / 17.2 -> 76.1 / 7.3 / 15.8, not covered refused 91.8% -> 92.4%; all answerable 83.4 /
# 5.2 / 11.4 -> 83.9 / 5.2 / 10.9, not covered 93.6% -> 93.8%; single questions unchanged.
# ... and how much the conversation adds to what the model reads (`context`: the topic words
# and medicine follow_text puts before the message, CONTEXT_WORDS of them or more counting 1),
# alone and as it weighs each reading: after a long story the carried topic is the story's
# bag of words, and the model's reading of the message alone deserves more weight. Out of
# fold (6 author folds, 218 authors, 30,616 conversations, 2026-12-05): right 19,745 ->
# 19,755, wrong 715 -> 712, refused 1,178 -> 1,171; follow-ups after a turn of 200 characters
# or more (265) right / wrong / refused 79.2 / 2.3 / 17.7 -> 82.3 / 4.2 / 12.8%. (Weighing the
# section answered last by it instead of the combined reading: right 19,724, wrong 703.)
CONTEXT_WORDS = 30


@dataclass(frozen=True)
class Found:
    """What retrieval found of one section: its rank among sections, and its best passage's
    coverage, BM25-based score and whether it names the medicine asked about."""
    rank: int
    coverage: float
    score: float
    on_topic: bool
    complete: bool = True


def found_sections(hits, section_id, complete=None) -> dict[str, Found]:
    """Retrieval's hits (best first) as the sections they come from, each once."""
    out: dict[str, Found] = {}
    for h in hits:
        s = section_id(h.passage.section)
        if s not in out:
            out[s] = Found(len(out) + 1, h.coverage, h.score, h.on_topic,
                           complete(h) if complete else True)
    return out


def candidates(probs: dict[str, float], found: dict[str, Found], bar: float,
               words: int, previous: str | None = None, follow_up: tuple | None = None,
               alone: dict[str, float] | None = None, context: int = 0
               ) -> list[tuple[str, list[float]]]:
    """Each candidate section and its features (in FEATURES order). For a follow-up
    (`follow_up`: its CUES, as read with what the conversation said before), the section
    answered last (`previous`) and the favourite of the model's reading of the message
    alone (`alone`, its probabilities; `probs` where they are the same) are candidates too,
    and the features are FOLLOW_UP_FEATURES; `context`: how many words the conversation adds
    to the follow-up in what the model reads (follow_text)."""
    sections = [c for c in probs if c not in NOT_SECTIONS]
    by_model = sorted(sections, key=lambda s: -probs[s])
    by_retrieval = sorted(found, key=lambda s: found[s].rank)[:RETRIEVED]
    if follow_up is not None:
        alone = alone or probs
        alone_top = max((c for c in alone if c not in NOT_SECTIONS), key=alone.get, default=None)
        extra = [s for s in (previous, alone_top) if s in probs]
        cues = [float(c) for c in follow_up]
        ctx = math.log1p(context) / math.log1p(CONTEXT_WORDS)  # log-scaled: 1 at CONTEXT_WORDS
        return [(s, f + [float(s == previous)] + [float(s == previous) * c for c in cues] + cues
                 + [alone.get(s, 0.0), float(s == alone_top), alone.get("no_answer", 0.0),
                    ctx, f[0] * ctx, alone.get(s, 0.0) * ctx])
                for s, f in _described(probs, found, bar, words, by_model, by_retrieval + extra)]
    return _described(probs, found, bar, words, by_model, by_retrieval)


def _described(probs, found, bar, words, by_model, by_retrieval) -> list[tuple[str, list[float]]]:
    """The candidates (retrieval's, then the model's best) with their FEATURES."""
    top_score = max((f.score for f in found.values()), default=0.0) or 1.0
    top_coverage = max((f.coverage for f in found.values()), default=0.0)
    out = []
    for s in dict.fromkeys(by_retrieval + by_model[:MODELLED]):
        f = found.get(s, Found(RETRIEVED + 1, 0.0, 0.0, False, False))
        p = probs.get(s, 0.0)
        out.append((s, [p, math.log(p + 1e-4), probs.get("no_answer", 0.0),
                        probs.get("smalltalk", 0.0), float(bool(by_model) and s == by_model[0]),
                        float(f.rank == 1), 1.0 / f.rank, f.coverage, f.score / top_score,
                        float(f.on_topic), top_coverage, f.coverage - bar,
                        math.log(words + 1), (f.coverage - bar) * float(f.rank == 1),
                        float(f.complete)]))
    return out


def scores(weights: list[float], cands: list[tuple[str, list[float]]]) -> dict[str, float]:
    """Each candidate's probability of being the section that answers (weights:
    coefficients, then the intercept)."""
    if not cands:
        return {}
    w = np.asarray(weights, dtype=np.float64)
    z = np.asarray([f for _, f in cands], dtype=np.float64) @ w[:-1] + w[-1]
    return {s: float(1.0 / (1.0 + math.exp(-v))) for (s, _), v in zip(cands, z)}


def best(weights: list[float], cands: list[tuple[str, list[float]]]) -> tuple[str, float] | None:
    """The highest-scoring candidate and its probability, or None without candidates."""
    scored = scores(weights, cands)
    if not scored:
        return None
    section = max(scored, key=scored.get)
    return section, scored[section]
