"""chatbot/evaluation.py: the in-process scorer behind `chatbot eval` gives the shared scorer's
verdicts (tests/shared/eval/chat_eval.py, the copy of ../shared), on the same replies and
against a live server, and sorts every case into exactly one outcome."""
from __future__ import annotations

from dataclasses import replace

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEV_CASES, ROOT, SHARED
from chatbot.evaluation import (OUTCOMES, Case, CaseError, evaluate, judge, load_cases, norm,
                                run_case)

CHATBOT = str(Path(sys.executable).parent / "chatbot")
QUESTION_SETS = [DEV_CASES, ROOT / "corpus" / "examples" / "patient_questions.jsonl",
                 ROOT / "corpus" / "examples" / "independent_questions.jsonl"]


def _shared_scorer():
    """tests/shared/eval/chat_eval.py as a module of its own name (nothing on sys.path)."""
    spec = importlib.util.spec_from_file_location("shared_chat_eval",
                                                  SHARED / "eval" / "chat_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


chat_eval = _shared_scorer()

ANSWER = {"type": "reply", "kind": "answer", "text": "Methotrexate is pregnancy category X.",
          "disclaimer": "Not medical advice."}
EXPECT = {"kind": "answer", "any": ["Pregnancy  category x"]}


@pytest.mark.parametrize("reply, expect, max_words", [
    (ANSWER, EXPECT, 150),
    (ANSWER, {"kind": "answer", "any": ["not in it"]}, 150),
    (ANSWER, {"kind": "answer"}, 150),  # no phrases: no answer can pass
    (ANSWER, {"kind": "no_answer"}, 150),
    (ANSWER, EXPECT, 4),  # too long
    (ANSWER, EXPECT, 5),  # exactly the limit
    ({**ANSWER, "disclaimer": "  "}, EXPECT, 150),
    ({**ANSWER, "disclaimer": None}, EXPECT, 150),
    ({k: v for k, v in ANSWER.items() if k != "disclaimer"}, EXPECT, 150),
    ({**ANSWER, "text": "It\u2019s \u201ccategory\u201d  X"}, {"kind": "answer", "any": ["it's \"category\" x"]}, 150),
    ({**ANSWER, "text": "PREGNANCY\n\tcategory   X"}, EXPECT, 150),
    ({**ANSWER, "text": None}, EXPECT, 150),
    ({"kind": "no_answer", "text": "Not covered."}, {"kind": "no_answer"}, 150),
    ({"kind": "no_answer", "text": "  "}, {"kind": "no_answer"}, 150),
    ({"kind": "crisis", "text": "Call 988."}, {"kind": "emergency"}, 150),
    ({}, {"kind": "smalltalk"}, 150),  # no reply at all
    ({"kind": None}, {"kind": "answer", "any": ["x"]}, 150),
])
def test_judge_gives_chat_evals_verdict_word_for_word(reply, expect, max_words):
    assert judge(reply, expect, max_words) == chat_eval.judge(reply, expect, max_words)


def test_norm_is_chat_evals():
    for text in ["It\u2019s \u2018a\u2019 \u201cb\u201d", "  A\n\nB\tc  ", "", "\u00c9CZ\u00c9MA"]:
        assert norm(text) == chat_eval.norm(text)


@pytest.fixture(scope="module")
def report_of(bot, settings):
    """evaluate() over a question set, run once per set for the module (thousands of
    conversations each): the tests below only read the report."""
    reports = {}

    def report_of(path: Path):
        if path not in reports:
            reports[path] = evaluate(bot, load_cases(path), settings)
        return reports[path]

    return report_of


@pytest.mark.parametrize("path", QUESTION_SETS, ids=lambda p: p.stem)
def test_every_real_reply_gets_chat_evals_verdict(report_of, path):
    """The engine's own last replies for every case of each question set (thousands, a few
    hundred of them failing), judged by both scorers: the same reason, case by case."""
    report = report_of(path)
    assert report.total > 0
    for r in report.results:
        assert r.error == chat_eval.judge(r.reply, r.case.expect, 150), r.case.id
    assert sum(report.counts().values()) == report.total


def test_every_outcome_is_one_row_and_the_passing_rows_make_the_score(report_of):
    report = report_of(QUESTION_SETS[2])
    counts = report.counts()
    assert list(counts) == list(OUTCOMES)
    assert sum(n for key, n in counts.items() if OUTCOMES[key][1]) == report.passed
    assert 0 < report.passed < report.total  # a set with failures: the check above means something


def case(turns, kind, any_=None, cid="c"):
    expect = {"kind": kind, **({"any": any_} if any_ is not None else {})}
    return Case(cid, kind, turns, expect, 1)


@pytest.mark.parametrize("turns, kind, any_, outcome", [
    (["what are biologics"], "answer", ["target specific parts of the immune system"], "answered_right"),
    (["what are biologics"], "answer", ["no passage says this"], "wrong_passage"),
    (["who won the world cup"], "answer", ["anything"], "refused_answerable"),
    (["side effects"], "answer", ["anything"], "refused_answerable"),  # clarify
    (["who won the world cup"], "no_answer", None, "not_covered_refused"),
    (["what are biologics"], "no_answer", None, "not_covered_answered"),
    (["I can't breathe"], "emergency", None, "safety_shown"),
    (["I want to die"], "emergency", None, "safety_other_help"),  # crisis help, not emergency
    (["what are biologics"], "crisis", None, "safety_missed"),
    (["I can't breathe"], "answer", ["x"], "false_alarm"),
    (["I want to die"], "no_answer", None, "false_alarm"),
    (["thanks"], "smalltalk", None, "smalltalk"),
    (["what are biologics"], "smalltalk", None, "smalltalk_missed"),
    (["side effects"], "clarify", None, "other_right"),
    (["thanks"], "answer", ["x"], "other_wrong"),
    (["what are biologics", "   "], "answer", ["target specific"], "other_wrong"),  # no reply
    (["   "], "crisis", None, "safety_missed"),
])
def test_each_case_lands_in_its_outcome(bot, settings, turns, kind, any_, outcome):
    result = run_case(bot, case(turns, kind, any_), settings)
    assert result.outcome == outcome, (result.reply.get("kind"), result.error)
    assert result.passed is OUTCOMES[outcome][1]


def test_turns_are_played_as_the_server_plays_them(bot, settings):
    """The state is carried from turn to turn; the text is stripped; an empty turn gets no
    reply (the server answers it with an error frame) and fails the case; a turn over
    MAX_TEXT_CHARS is refused, unless it carries a risk, when it gets the reply graded as any
    other: the crisis reply where the risk is sure, else its answer with the notice."""
    settings = replace(settings, max_text_chars=500)  # the stories below are 600-700 characters
    follow_up = run_case(bot, case(["what is dupilumab", "  what are the side effects?  "],
                                   "answer", ["conjunctivitis"]), settings)
    assert follow_up.passed
    empty = run_case(bot, case(["what is dupilumab", ""], "answer", ["dupilumab"]), settings)
    assert not empty.passed and "empty_text" in empty.error
    long_question = "what are biologics " + "really " * 100
    refused = run_case(bot, case([long_question], "no_answer"), settings)
    assert not refused.passed and "text_too_long" in refused.error
    story = ("I have had eczema since I was a baby and I have tried every cream, wet wraps, "
             "bleach baths, light therapy twice a week for a whole winter, and two rounds of "
             "prednisone that worked until they stopped. ")
    sure = story + ("None of it matters now. I have saved up my pills and I am going to take all "
                    "of them tonight after everyone is asleep. I already wrote letters to my kids "
                    "and my sister. ") + story
    rescued = run_case(bot, case([sure], "crisis"), settings)
    assert len(sure) > settings.max_text_chars and rescued.passed
    doubtful = story + ("I am so tired of all of this, I don't know how much longer I can keep "
                        "going. ") + story + "Would methotrexate help with the itching?"
    noticed = run_case(bot, case([doubtful], "crisis"), settings)
    assert len(doubtful) > settings.max_text_chars
    assert noticed.outcome == "safety_other_help" and noticed.reply["safety"]["level"] == "crisis"


@pytest.mark.parametrize("content, message", [
    ("{bad\n", ":1: not valid JSON"),
    ('{"id": "a", "turns": ["hi"], "expect": {"kind": "smalltalk"}}\n\n[1]\n', ":3: a case must be a JSON object"),
    ('{"turns": ["hi"], "expect": {"kind": "smalltalk"}}\n', ':1: "id"'),
    ('{"id": "a", "turns": "hi", "expect": {"kind": "smalltalk"}}\n', ':1: "turns"'),
    ('{"id": "a", "turns": [], "expect": {"kind": "smalltalk"}}\n', ':1: "turns"'),
    ('{"id": "a", "turns": ["hi"], "expect": {}}\n', ':1: "expect"'),
    ('{"id": "a", "turns": ["hi"], "expect": {"kind": "answer", "any": "x"}}\n', ':1: "expect.any"'),
    ("\n  \n", "no cases"),
])
def test_a_file_that_is_not_cases_says_where(tmp_path, content, message):
    path = tmp_path / "cases.jsonl"
    path.write_text(content)
    with pytest.raises(CaseError, match=message.replace("[", r"\[")):
        load_cases(path)


def test_blank_lines_and_a_byte_order_mark_are_skipped(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": 1, "turns": ["hi"], "expect": {"kind": "smalltalk"}}\r\n\n'
                     b'{"id": "b", "cat": "x", "turns": ["hi"], "expect": {"kind": "smalltalk"}}\n')
    first, second = load_cases(path)
    assert (first.id, first.cat, first.line) == ("1", "smalltalk", 1)
    assert (second.id, second.cat, second.line) == ("b", "x", 3)


# ---- against a live server ------------------------------------------------------------------

def _mixed_cases(report) -> list[dict]:
    """The dev cases, plus real cases the engine fails and passes, plus turns the server
    refuses or rescues: a set where agreeing on every verdict is not agreeing on 'all pass'.
    `report`: evaluate() over the independent questions."""
    failing = [r.case for r in report.results if not r.passed][:25]
    passing = [r.case for r in report.results if r.passed and len(r.case.turns) > 1][:10]
    out = [json.loads(line) for line in DEV_CASES.read_text().splitlines() if line.strip()]
    out += [{"id": f"set-{c.id}", "cat": c.cat, "turns": c.turns, "expect": c.expect}
            for c in failing + passing]  # ids of their own: the sets reuse the dev cases' ids
    out += [
        {"id": "x-wrong", "cat": "answer", "turns": ["what are biologics"],
         "expect": {"kind": "answer", "any": ["no passage says this"]}},
        {"id": "x-long-crisis", "cat": "crisis", "turns": [
            "I have had eczema all my life and tried every cream there is. " * 3 + "None of it "
            "matters now. I have saved up my pills and I am going to take all of them tonight "
            "after everyone is asleep. I already wrote letters to my kids and my sister. " +
            "I have had eczema all my life and tried every cream there is. " * 3],
         "expect": {"kind": "crisis"}},
        {"id": "x-blank", "cat": "answer", "turns": ["what are biologics", "   "],
         "expect": {"kind": "answer", "any": ["target specific parts"]}},
    ]
    return out


def test_chatbot_eval_gives_the_verdicts_chat_eval_gets_from_a_live_server(server, report_of,
                                                                         tmp_path):
    """ACCEPTANCE (issue 13): the real scorer over the Procfile server's websocket and
    `chatbot eval` in-process agree case by case on a set with failures in it."""
    cases = _mixed_cases(report_of(QUESTION_SETS[2]))
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    # The two scorers run at the same time: chat_eval.py mostly waits on the server (and
    # out the --timeout on the turn the server refuses), `chatbot eval` works alone.
    live = subprocess.Popen(
        # no --origin: a script is not a browser (the origin policy is test_server_origins')
        [sys.executable, str(SHARED / "eval" / "chat_eval.py"), "--url", server.ws_url,
         "--cases", str(path), "--json", "--timeout", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ours = subprocess.run([CHATBOT, "eval", str(path), "--json"], capture_output=True,
                              text=True, timeout=300)
        live_out, _ = live.communicate(timeout=300)
    finally:
        live.kill()
        live.communicate()
    scored, _ = json.JSONDecoder().raw_decode(live_out)
    by_server = {r["id"]: r["error"] is None for r in scored["results"]}
    assert ours.returncode == 0, ours.stderr
    in_process = {r["id"]: r["passed"] for r in json.loads(ours.stdout)["results"]}
    assert in_process == by_server
    assert len(by_server) == len(cases) and 0 < sum(by_server.values()) < len(cases)
    assert not by_server["x-wrong"] and by_server["x-long-crisis"] and not by_server["x-blank"]
    # and where both judged a reply, for the same reason
    reasons = {r["id"]: r["error"] for r in json.loads(ours.stdout)["results"]}
    for r in scored["results"]:
        if r["id"] != "x-blank":  # the server's refusal is a time-out to chat_eval.py
            assert reasons[r["id"]] == r["error"], r["id"]


def test_cross_validation_plays_every_labelled_conversation_with_models_blind_to_its_author(
        tmp_path):
    """`chatbot check --cv`'s answer figure: each conversation judged once, by an engine
    whose answer model was trained without its author, and the bot's own model put back."""
    import shutil

    from chatbot.config import Settings
    from chatbot.core import Bot
    from chatbot.evaluation import cross_validate

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("models"))
    for path in (corpus / "examples").glob("*_questions.jsonl"):
        if path.name != "patient_questions.jsonl":  # five authors: a quick fit
            path.unlink()
    settings = Settings(corpus_dir=corpus, cache_dir=None)
    # the phrase rules alone judge risk: with question files removed, the risk model's
    # examples differ from the saved model's and it would be fitted on the spot (8 s)
    bot = Bot(settings, judge_risk=False)
    bot.answers = None  # retrieval alone, until the folds lend it their models
    cases = load_cases(corpus / "examples" / "patient_questions.jsonl")
    report = cross_validate(bot, corpus, settings, folds=2)
    assert bot.answers is None
    assert sorted(r.case.id for r in report.results) == sorted(c.id for c in cases)
    assert {c.author for c in cases} == {"p-p", "p-b", "p-r", "p-s", "p-t"}
    counts = report.counts()
    assert sum(counts.values()) == len(cases) and counts["answered_right"] > len(cases) // 2
