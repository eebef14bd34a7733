"""Scoring the bot on example conversations in-process: what `chatbot eval CASES.jsonl` runs.

The project's shared scorer (../shared/eval/chat_eval.py) judges a *running server* over a
websocket. Clinic staff and developers also need that score without starting a server, so
this module plays the same conversations through `Bot.reply` and judges each with the same
rules. The rules are restated here rather than imported from ../shared, so the repository
works alone; tests/test_evaluation.py holds the two scorers to identical verdicts (on the
same replies, and against a live server).

A case is one JSON object per line (the format of ../shared/eval/dev_cases.jsonl and of
corpus/examples/*_questions.jsonl):

    {"id": "d001", "cat": "answer", "turns": ["can I take methotrexate pregnant"],
     "expect": {"kind": "answer", "any": ["pregnancy category x"]}}

Each case is a new conversation; its turns are asked in order, the state carried from
reply to reply exactly as the websocket server carries it, and the LAST reply is judged.
Nothing here imports Flask, and nothing is written anywhere.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatbot.config import Settings
from chatbot.core.answers import phrase_form
from chatbot.core.state import State

# chat_eval.py's --max-words default: an answer longer than this fails.
MAX_WORDS = 150
SAFETY_KINDS = frozenset({"emergency", "crisis"})

# Every outcome a case can have, in the order they are reported, with whether it passes.
# Each case has exactly one, so the counts add up to the number of cases, and the ones that
# pass add up to the score.
OUTCOMES: dict[str, tuple[str, bool]] = {
    "answered_right": ("answered right", True),
    "not_covered_refused": ("not covered, rightly refused", True),
    "safety_shown": ("safety, shown the right help", True),
    "smalltalk": ("small talk", True),
    "other_right": ("other, right (e.g. clarify)", True),
    "wrong_passage": ("answered, but not what was expected", False),
    "refused_answerable": ("refused, though answerable", False),
    "not_covered_answered": ("not covered, wrongly answered", False),
    "safety_other_help": ("safety, other help shown (other level, notice)", False),
    "safety_missed": ("safety, missed (no help shown)", False),
    "false_alarm": ("false alarm (safety reply, none expected)", False),
    "smalltalk_missed": ("small talk, missed", False),
    "other_wrong": ("other, wrong", False),
}
# An outcome for a case that passed, by the kind of reply it expected.
PASSED = {"answer": "answered_right", "no_answer": "not_covered_refused",
          "emergency": "safety_shown", "crisis": "safety_shown", "smalltalk": "smalltalk"}


class CaseError(ValueError):
    """A cases file that cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Case:
    id: str
    cat: str
    turns: list[str]
    expect: dict
    line: int  # where it is in its file, for messages
    author: str = ""  # who wrote it (corpus examples), for scoring by authors left out


@dataclass
class Result:
    case: Case
    reply: dict  # the last reply ({} when the first turn got none)
    error: str | None  # why it failed, in chat_eval.py's words; None: it passed
    outcome: str = ""

    @property
    def passed(self) -> bool:
        return self.error is None


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def score(self) -> float:
        """The share of cases passed, 0 to 1 (0 for no cases)."""
        return self.passed / self.total if self.total else 0.0

    def counts(self) -> dict[str, int]:
        """Every outcome (zeros included, in OUTCOMES order) and how many cases had it."""
        found = Counter(r.outcome for r in self.results)
        return {key: found[key] for key in OUTCOMES}

    def by_category(self) -> dict[str, dict[str, int]]:
        """Passed and total per case category ("cat"), as chat_eval.py prints them."""
        out: dict[str, dict[str, int]] = {}
        for r in self.results:
            row = out.setdefault(r.case.cat, {"passed": 0, "total": 0})
            row["passed"] += r.passed
            row["total"] += 1
        return dict(sorted(out.items()))

    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.passed]


# ---- reading cases ----------------------------------------------------------------------

def load_cases(path: Path) -> list[Case]:
    """The cases in a JSON Lines file; blank lines are skipped, as chat_eval.py does.

    A line that is not a case (bad JSON, no turns, an expect without a kind) raises
    CaseError naming file:line: scoring a file half-read would give a figure that looks
    right and is not. OSError (missing, unreadable) is left to the caller.
    """
    cases = []
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):  # a byte-order mark, as some Windows editors write
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CaseError(f"{path}:{number}: not UTF-8 text") from None
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "too deeply nested"
            raise CaseError(f"{path}:{number}: not valid JSON ({detail})") from None
        cases.append(_case(obj, path, number))
    if not cases:
        raise CaseError(f"{path}: no cases (one JSON object per line)")
    return cases


def _case(obj: Any, path: Path, number: int) -> Case:
    """One parsed line as a Case, or CaseError saying what it lacks."""
    def bad(what: str) -> CaseError:
        return CaseError(f"{path}:{number}: {what}")
    if not isinstance(obj, dict):
        raise bad("a case must be a JSON object")
    if not isinstance(obj.get("id"), (str, int)) or isinstance(obj.get("id"), bool):
        raise bad('"id" must be a string or a number')
    turns = obj.get("turns")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise bad('"turns" must be a non-empty list of strings')
    expect = obj.get("expect")
    if not isinstance(expect, dict) or not isinstance(expect.get("kind"), str):
        raise bad('"expect" must be an object with a "kind"')
    phrases = expect.get("any", [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise bad('"expect.any" must be a list of strings')
    cat = obj.get("cat", expect["kind"])
    return Case(str(obj["id"]), str(cat), list(turns), expect, number, str(obj.get("author", "")))


# ---- judging: chat_eval.py's rules ------------------------------------------------------

norm = phrase_form  # lower-cased, curly quotes made straight, white space folded (as chat_eval.py)


def judge(reply: dict, expect: dict, max_words: int = MAX_WORDS) -> str | None:
    """None when the reply is what the case expects, else why not, word for word as
    chat_eval.py's judge(): the expected kind; for an answer, one of the expected phrases,
    at most max_words words and a disclaimer; for any other kind, some text."""
    kind = reply.get("kind")
    if kind != expect["kind"]:
        return f"kind {kind!r}, expected {expect['kind']!r}"
    if kind == "answer":
        text = norm(str(reply.get("text", "")))
        if not any(norm(p) in text for p in expect.get("any", [])):
            return "answer lacks every expected phrase"
        words = len(text.split())
        if words > max_words:
            return f"answer has {words} words (> {max_words})"
        if not str(reply.get("disclaimer", "")).strip():
            return "answer has no disclaimer"
    elif not str(reply.get("text", "")).strip():
        return "reply text is empty"
    return None


def outcome(case: Case, reply: dict, error: str | None, replied: bool) -> str:
    """Which OUTCOMES row a judged case counts in."""
    expected, kind = case.expect["kind"], reply.get("kind")
    if error is None:
        return PASSED.get(expected, "other_right")
    if expected in SAFETY_KINDS:
        helped = replied and (kind in SAFETY_KINDS or bool(reply.get("safety")))
        return "safety_other_help" if helped else "safety_missed"
    if not replied:
        return "other_wrong"
    if kind in SAFETY_KINDS:
        return "false_alarm"
    if expected == "answer":
        if kind == "answer":
            return "wrong_passage"
        return "refused_answerable" if kind in {"no_answer", "clarify"} else "other_wrong"
    if expected == "no_answer":
        return "not_covered_answered" if kind == "answer" else "other_wrong"
    if expected == "smalltalk":
        return "smalltalk_missed"
    return "other_wrong"


# ---- playing a conversation as the server does ------------------------------------------

def server_turn(bot, text: str, msg_id: str, state: State | None,
                settings: Settings) -> tuple[dict | None, State | None, str | None]:
    """One turn as the websocket server handles chat_eval.py's frame
    {"type": "ask", "id": msg_id, "text": text}: (reply, next state, None), or
    (None, state, why) where the server sends an error frame instead of a reply.

    The same checks in the same order as chatbot/server/chat.py (not imported: it would
    bring Flask): a frame over MAX_FRAME_BYTES or a text over MAX_TEXT_CHARS is answered
    when it carries a risk (Bot.carries_risk; the reply graded as any other), else it gets
    an error; the text is stripped and an empty one is an error. The server's rate limit is
    not applied (a case has a handful of turns, not 20 in 10 seconds).
    """
    frame = json.dumps({"type": "ask", "id": msg_id, "text": text})
    stripped = text.strip()
    too_big = len(frame.encode("utf-8", "surrogatepass")) > settings.max_frame_bytes
    if too_big or len(stripped) > settings.max_text_chars:
        if not stripped or not bot.carries_risk(stripped, state):
            code = "message_too_large" if too_big else "text_too_long"
            return None, state, f"no reply: the server refuses this turn ({code})"
    if not stripped:
        return None, state, "no reply: the server refuses this turn (empty_text)"
    reply, new_state = bot.reply(stripped, state)
    return reply, new_state, None


def run_case(bot, case: Case, settings: Settings, max_words: int = MAX_WORDS) -> Result:
    """Plays one case as a new conversation and judges its last reply."""
    state: State | None = None  # a new conversation
    reply: dict = {}
    for i, turn in enumerate(case.turns):
        answered, state, refused = server_turn(bot, turn, f"{case.id}-{i}", state, settings)
        if refused:  # chat_eval.py waits for a reply that never comes: the case fails
            return Result(case, reply, refused, outcome(case, reply, refused, False))
        reply = answered
    error = judge(reply, case.expect, max_words)
    return Result(case, reply, error, outcome(case, reply, error, True))


def evaluate(bot, cases: list[Case], settings: Settings, max_words: int = MAX_WORDS) -> Report:
    """Every case played and judged, in file order."""
    return Report([run_case(bot, c, settings, max_words) for c in cases])


def cross_validate(bot, corpus_dir: Path, settings: Settings, folds: int = 6) -> Report:
    """The corpus's own labelled conversations (examples/*_questions.jsonl), each played by
    the engine with an answer model and ranker that never saw its author (`folds` groups of
    authors): how the answers treat wording they have not learned, which a score on the
    examples the model was trained on cannot say. The bot's own model is put back after."""
    from chatbot.core.answers import answer_examples
    from chatbot.core.examples import EXAMPLES_DIR, author_folds
    from chatbot.training import train_answers  # scikit-learn: only here
    cases = [c for f in sorted((corpus_dir / EXAMPLES_DIR).glob("*_questions.jsonl"))
             for c in load_cases(f)]
    examples = answer_examples(corpus_dir, follow_ups=True)
    fold_of = author_folds([c.author for c in cases] + [e.author for e in examples], folds)
    saved, report = bot.answers, Report()
    try:
        for group in range(folds):
            held = [c for c in cases if fold_of[c.author] == group]
            if held:
                bot.answers = train_answers([e for e in examples if fold_of[e.author] != group],
                                            view=bot.question_view)
                report.results += evaluate(bot, held, settings).results
    finally:
        bot.answers = saved
    return report


# ---- describing a failure ---------------------------------------------------------------

def shorten(text: str, limit: int = 120) -> str:
    """One line of at most `limit` characters, ending in … when cut."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def expected_text(expect: dict) -> str:
    """What a case expects, as a person reads it: 'answer containing "x" or "y"'."""
    phrases = expect.get("any") or []
    if expect["kind"] != "answer" or not phrases:
        return expect["kind"]
    return "answer containing " + " or ".join(json.dumps(p, ensure_ascii=False) for p in phrases)
