"""How the safety routing treats people whose wording it has never seen.

Leave-one-author-out cross-validation over corpus/examples/: for each author, the risk model
is trained on every other author's messages and judged on this author's, with the phrase
rules and the graded policy exactly as the engine applies them (chatbot.core.safety.grade).
Reported apart: help shown to people in crisis and in an emergency (the reply itself or the
notice), how often that help was the full reply (sure), and false alarms on look-alikes and
everyday text (derailed into a safety reply, or given a notice) and on ordinary questions
about the medicines. The rules alone and the model alone are shown beside the policy.
Also: the routing cost per message (rules + model) and the time to train on everything.

usage: python bench/safety_quality.py [--quick]   (--quick: 6 folds instead of one per author)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from common import Result  # noqa: E402

from chatbot.core.dialogue import fold  # noqa: E402
from chatbot.core.examples import load_examples  # noqa: E402
from chatbot.core.safety import Safety, grade  # noqa: E402
from chatbot import training  # noqa: E402

GROUPS = ("crisis", "emergency", "look-alikes and everyday text", "questions about the medicines")


def group(e) -> str:
    """Which population an example stands for: risk by kind; ordinary messages by source."""
    if e.kind != "none":
        return e.kind
    return "look-alikes and everyday text" if e.where.startswith("safety") \
        else "questions about the medicines"


def score(pairs, rules: dict, how: str) -> dict:
    """Rates per group for one way of routing: 'policy', 'rules' or 'model'."""
    n, help_, sure = Counter(), Counter(), Counter()
    for e, risk in pairs:
        g = group(e)
        n[g] += 1
        rule = rules[e.where, e.text]
        if how == "rules":
            level, is_sure = rule, rule is not None
        else:
            level, is_sure = grade(rule if how == "policy" else None, risk)
        help_[g] += level is not None
        sure[g] += is_sure
    pct = lambda c, g: round(100 * c[g] / n[g], 1) if n[g] else None  # noqa: E731
    return {g: {"n": n[g], "shown_pct": pct(help_, g), "sure_pct": pct(sure, g)} for g in GROUPS}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    corpus = ROOT / "corpus"
    examples = load_examples(corpus)
    safety = Safety.load(corpus / "safety.toml").prepare()  # as a server routes
    rules = {(e.where, e.text): safety.check(fold(e.text)) for e in examples}

    started = time.perf_counter()
    pairs = training.leave_one_author_out(examples, folds=6 if args.quick else None)
    cv_s = time.perf_counter() - started
    by_author = {}
    for a in sorted({e.author for e in examples}):
        mine = [(e, r) for e, r in pairs if e.author == a]
        by_author[a] = score(mine, rules, "policy")

    model, train_s = training.train_corpus(corpus, out=ROOT / "bench" / "out" / "risk.npz")
    safety.model = model
    costs = []
    for e in examples:
        t = time.perf_counter()
        safety.assess(e.text, fold(e.text))
        costs.append(time.perf_counter() - t)
    costs.sort()
    Result("safety_quality", "python bench/safety_quality.py" + (" --quick" if args.quick else ""), {
        "examples": len(examples), "authors": len(by_author), "cv_seconds": round(cv_s, 1),
        "folds": 6 if args.quick else len(by_author),
        "policy": score(pairs, rules, "policy"), "rules": score(pairs, rules, "rules"),
        "model": score(pairs, rules, "model"), "by_author": by_author,
        "train_seconds": round(train_s, 2),
        "route_us_median": round(1e6 * statistics.median(costs)),
        "route_us_p99": round(1e6 * costs[int(0.99 * len(costs))]),
    }).save()
    print(f"safety_quality: {len(examples)} examples, CV {cv_s:.0f} s")


if __name__ == "__main__":
    main()
