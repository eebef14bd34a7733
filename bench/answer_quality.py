"""How the answers treat questions from authors the answer model never saw.

Leave-authors-out cross-validation over corpus/examples/*_questions.jsonl (6 folds of
authors): for each fold the answer model and its ranker are trained on the other authors'
questions (the ranker from inner folds of those authors, as `chatbot train` does) and the
engine answers this fold's conversations three ways: retrieval alone, retrieval with the
answer model as a rescue (both rankers taken out: the first questions' and the follow-ups'),
and the engine as it ships (the rankers). Reported apart: answerable questions answered right, answered with a wrong passage,
refused (and of those refused, how often the question that answers was among the reply's
suggestions); questions the article does not cover that were refused; small talk. The shared dev
cases (tests/shared/eval, never trained on) are scored with the model trained on everything.
A new article has no labelled questions: with every example of a third of the sections
withheld in turn, the engine must answer those sections' questions at least as well as
retrieval alone (`without_examples`).

Retrieval's lexicon and filler lists were mended on these same question sets over earlier
sessions, so "retrieval alone" is flattered here; the model's share is the honest part.

usage: python bench/answer_quality.py
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from common import DEV_CASES, Result  # noqa: E402

from chatbot.config import Settings  # noqa: E402
from chatbot.core import load_bot  # noqa: E402
from chatbot.core.answers import answer_examples, section_id  # noqa: E402
from chatbot.core.examples import author_folds  # noqa: E402
from chatbot.training import train_answers  # noqa: E402
from chatbot.views import SavedViews  # noqa: E402

FOLDS = 6
SECTION_FOLDS = 3  # groups of sections withheld in turn, as if a new article's
ARTICLE = "systemic-immunomodulators-eczema"


def conversations(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def outcome(bot, case: dict) -> str:
    """right / wrong / refused (answerable), refused_ok / answered (not covered), or ok / miss."""
    state: dict = {}
    for turn in case["turns"]:
        reply, state = bot.reply(turn, state)
    expect = case["expect"]
    if expect["kind"] == "answer":
        if reply["kind"] != "answer":
            section = case.get("section", "").split("/")[-1]
            offered = any(section_id(s) == section for s in reply["suggestions"])
            return "refused_offered" if section and offered else "refused"
        text = reply["text"].lower()
        return "right" if any(p.lower() in text for p in expect["any"]) else "wrong"
    if expect["kind"] == "no_answer":
        return "refused_ok" if reply["kind"] in ("no_answer", "clarify") else "answered"
    return "ok" if reply["kind"] == expect["kind"] else "miss"


def summary(outcomes: list[tuple[dict, str]]) -> dict:
    c, n = Counter(o for _, o in outcomes), Counter()
    offered = c["refused_offered"]  # refused, with the question that answers among the suggestions
    c["refused"] += offered
    for case, _ in outcomes:
        n[case["expect"]["kind"]] += 1
    pct = lambda k, of: round(100 * c[k] / n[of], 1) if n[of] else None  # noqa: E731
    return {"answerable": n["answer"], "right_pct": pct("right", "answer"),
            "wrong_pct": pct("wrong", "answer"), "refused_pct": pct("refused", "answer"),
            "refused_right_offered_pct": round(100 * offered / c["refused"], 1) if c["refused"] else None,
            "not_covered": n["no_answer"], "not_covered_refused_pct": pct("refused_ok", "no_answer"),
            "smalltalk": n["smalltalk"], "smalltalk_pct": round(100 * sum(
                1 for case, o in outcomes if case["expect"]["kind"] == "smalltalk" and o == "ok")
                / n["smalltalk"], 1) if n["smalltalk"] else None}


def main() -> None:
    corpus = ROOT / "corpus"
    cases = [c for f in sorted((corpus / "examples").glob("*_questions.jsonl"))
             for c in conversations(f) if c["expect"]["kind"] in ("answer", "no_answer", "smalltalk")]
    examples = answer_examples(corpus, follow_ups=True)
    authors = sorted({c["author"] for c in cases})
    fold_of = author_folds(authors, FOLDS)
    bot = load_bot(Settings(cache_dir=None, reply_cache_size=0))
    full_model = bot.answers
    # retrieval's view of a question does not depend on the answer model: worked out once
    # for every fold (in memory, as `chatbot train` keeps them between trainings)
    view = SavedViews(bot.question_view, None, "")
    started = time.perf_counter()
    alone, learned, ranked = [], [], []
    for fold in range(FOLDS):
        held = [c for c in cases if fold_of[c["author"]] == fold]
        model = train_answers([e for e in examples if fold_of.get(e.author) != fold],
                              view=view)
        bot.answers = model
        ranked += [(c, outcome(bot, c)) for c in held]
        rankers = {k: model.extra.pop(k) for k in ("ranker", "follow_ranker") if k in model.extra}
        learned += [(c, outcome(bot, c)) for c in held]
        model.extra.update(rankers)
        bot.answers = None
        alone += [(c, outcome(bot, c)) for c in held]
    new_sections = without_examples(bot, cases, examples, view)
    dev = [c for c in conversations(DEV_CASES) if c["expect"]["kind"] in ("answer", "no_answer", "smalltalk")]
    bot.answers = None
    dev_alone = [(c, outcome(bot, c)) for c in dev]
    bot.answers = full_model
    dev_learned = [(c, outcome(bot, c)) for c in dev]
    Result("answer_quality", "python bench/answer_quality.py", {
        "conversations": len(cases), "authors": len(authors), "folds": FOLDS,
        "seconds": round(time.perf_counter() - started, 1),
        "retrieval_alone": summary(alone), "with_answer_model": summary(learned),
        "with_ranker": summary(ranked), "sections_without_examples": new_sections,
        "dev_retrieval_alone": summary(dev_alone), "dev_with_answer_model": summary(dev_learned),
    }).save()
    print("answer_quality:", summary(alone), summary(learned), summary(ranked), new_sections,
          sep="\n")


def without_examples(bot, cases: list[dict], examples: list, view) -> dict:
    """A new article's sections have no labelled questions: the engine must answer them at
    least as well as retrieval alone. The article's sections are split into SECTION_FOLDS
    groups; for each, every example of the group's sections is withheld (with the fold's
    authors, as above) and the engine, its model knowing only the other sections, answers
    the held-out questions that the group's sections answer."""
    sections = sorted({c["section"] for c in cases if c.get("section")})
    group_of = {s: i % SECTION_FOLDS for i, s in enumerate(sections)}
    fold_of = author_folds((c["author"] for c in cases), FOLDS)
    alone, engine = [], []
    for group in range(SECTION_FOLDS):
        for fold in range(FOLDS):
            held = [c for c in cases if fold_of[c["author"]] == fold
                    and c["expect"]["kind"] == "answer" and group_of.get(c.get("section")) == group]
            known = [e for e in examples if fold_of.get(e.author) != fold
                     and group_of.get(f"{ARTICLE}/{e.kind}") != group]
            bot.answers = train_answers(known, view=view)
            engine += [(c, outcome(bot, c)) for c in held]
            bot.answers = None
            alone += [(c, outcome(bot, c)) for c in held]
    return {"retrieval_alone": summary(alone), "engine": summary(engine)}


if __name__ == "__main__":
    main()
