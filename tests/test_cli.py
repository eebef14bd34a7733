"""The `ask` and `chatbot` commands the way a person runs them: their entry points in this
process (the `cli` fixture) for what they print and return, and real subprocesses for what
only a process shows (the installed scripts, pipes, a terminal, signals)."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest

from chatbot.cli import format_reply, link_text
from chatbot.core.classifier import TextClassifier

BIN = Path(sys.executable).parent
ASK = str(BIN / "ask")
SGR = re.compile(rb"\x1b\[[0-9;]*m")  # a colour or bold escape sequence
DISCLAIMER = "not medical advice"
ROOT = Path(__file__).resolve().parent.parent


def run(*args, env=None, stdin=None, timeout=60):
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True,
                          input=stdin, timeout=timeout, env={**os.environ, **(env or {})})


def test_quickstart_question_prints_passage_source_and_disclaimer():
    out = run("ask", "can I take methotrexate pregnant")
    assert out.returncode == 0 and out.stderr == ""
    assert "pregnancy category X" in out.stdout
    assert "Who should not take systemic immunomodulators?" in out.stdout
    assert "not medical advice" in out.stdout


def test_json_prints_the_reply_object(cli):
    out = cli("ask", "--json", "dupixant pink eye")
    reply = json.loads(out.stdout)
    assert out.returncode == 0
    assert reply["type"] == "reply" and reply["kind"] == "answer"
    assert "conjunctivitis" in reply["text"] and reply["source"]["passage_id"]


@pytest.mark.parametrize("question, kind", [("I can't breathe", "emergency"),
                                            ("who won the world cup", "no_answer"),
                                            ("thanks", "smalltalk")])
def test_every_reply_exits_zero(question, kind, cli):
    out = cli("ask", "--json", question)
    assert out.returncode == 0 and json.loads(out.stdout)["kind"] == kind


def test_unquoted_words_are_one_question(cli):
    out = cli("ask", "side", "effects", "of", "cyclosporine")
    assert "kidney damage" in out.stdout


def test_help_shows_examples(cli):
    out = cli("ask", "--help")
    assert out.returncode == 0 and "examples:" in out.stdout and "ask --json" in out.stdout


@pytest.mark.parametrize("args", [["--bogus"], [""], ["   "]])
def test_usage_error_exits_2_with_one_line(args, cli):
    out = cli("ask", *args)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_bad_setting_exits_2_with_one_line(cli):
    out = cli("ask", "hi", env={"MIN_CONFIDENCE": "lots"})
    assert out.returncode == 2 and out.stderr.strip() == "ask: MIN_CONFIDENCE must be a number, got 'lots'"


def test_broken_corpus_says_which_file_without_traceback(tmp_path, cli):
    (tmp_path / "bad.md").write_text("no front matter\n")
    out = cli("ask", "hi", env={"CORPUS_DIR": str(tmp_path)})
    assert out.returncode == 1 and "bad.md:1" in out.stderr and "Traceback" not in out.stderr


# ---- questions on standard input: one reply per line -------------------------------------

def test_question_from_a_pipe(cli):
    out = cli("ask", stdin="what are biologics\n")
    assert out.returncode == 0 and "target specific parts of the immune system" in out.stdout


@pytest.mark.parametrize("stdin", ["", "\n  \n\n"])
def test_a_pipe_without_a_question_is_a_usage_error(stdin, cli):
    out = cli("ask", stdin=stdin)
    assert out.returncode == 2 and "no question" in out.stderr and out.stdout == ""


def test_each_line_on_stdin_gets_its_own_reply_keeping_context(cli):
    out = cli("ask", "--json", stdin="what is dupilumab\n\nwhat are the side effects?\n")
    assert out.returncode == 0 and out.stderr == ""
    first, second = [json.loads(line) for line in out.stdout.splitlines()]  # JSON Lines
    assert "Dupilumab" in first["text"]
    assert "conjunctivitis" in second["text"]  # "the side effects" of dupilumab, from line 1


def test_lines_on_stdin_are_answered_in_order_under_their_question(cli):
    out = cli("ask", stdin="what are biologics\nI can't breathe\nthanks\n")
    assert out.returncode == 0
    text = out.stdout
    first, second, third = (text.index(f"> {q}\n") for q in
                            ["what are biologics", "I can't breathe", "thanks"])
    assert first < text.index("immune system") < second < text.index("911") < third


def test_bytes_that_are_not_utf8_on_stdin_are_not_a_traceback():
    out = subprocess.run([ASK], input=b"what are biologics\xff\n", capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stderr == b"" and b"immune system" in out.stdout


def read_available(fd: int, until: bytes, timeout: float = 30) -> bytes:
    """Reads from `fd` until `until` has arrived (or the writer closed it)."""
    buf, deadline = b"", time.monotonic() + timeout
    while until not in buf:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {until!r} in {buf[-500:]!r}")
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # a pty's other end closed
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_each_reply_is_written_before_the_next_line_and_a_reader_may_leave():
    """A program asks one question at a time; like `head`, it stops reading after the first
    reply. The next reply then meets a closed pipe: `ask` ends quietly with 0."""
    proc = subprocess.Popen([ASK], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"what are biologics\n")
        proc.stdin.flush()
        first = read_available(proc.stdout.fileno(), DISCLAIMER.encode())
        assert b"immune system" in first  # answered while the pipe is still open
        proc.stdout.close()
        proc.stdin.write(b"what is methotrexate\nwhat is cyclosporine\n")
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read() == b""
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()


@pytest.mark.parametrize("pipeline, ask_at", [
    ('"$ASK" "what are biologics" | true', 0),
    ('"$ASK" --help | true', 0),
    # more than a pipe's 64 KiB of replies, so some are surely written after head left
    ('yes "what are biologics" | head -n 200 | "$ASK" | head -2', 2),
])
def test_a_reader_that_stops_early_ends_ask_quietly(pipeline, ask_at):
    out = subprocess.run(["bash", "-c", pipeline + '; echo "${PIPESTATUS[@]}" >&2'],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "ASK": ASK})
    *messages, statuses = out.stderr.splitlines()
    assert messages == []  # no traceback, no "Exception ignored"
    assert statuses.split()[ask_at] == "0"
    if "head -2" in pipeline:
        assert out.stdout.splitlines() == ["> what are biologics",
                                           "Biologics are new-ish drugs that target specific "
                                           "parts of the immune system."]



def test_a_reader_that_stops_early_ends_chatbot_check_quietly():
    """`chatbot check | true`: what it prints after the reader left is not worth a traceback
    (train is the same path; its models are saved before it prints)."""
    out = subprocess.run(["bash", "-c", '"$CHATBOT" check | true; echo "${PIPESTATUS[@]}" >&2'],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "CHATBOT": str(BIN / "chatbot")})
    *messages, statuses = out.stderr.splitlines()
    assert messages == [] and statuses.split()[0] == "0"

# ---- how a reply looks: safety notices, emergencies, colour -------------------------------

CRISIS = {
    "type": "reply", "kind": "crisis", "confidence": 1.0, "suggestions": [], "source": None,
    "text": "I'm really sorry you're going through this. You don't have to face it alone.",
    "disclaimer": "General information from an article, not medical advice.",
    "safety": {"level": "crisis", "text": "You can reach the Suicide & Crisis Lifeline now.",
               "links": [{"label": "Call 988", "href": "tel:988"},
                         {"label": "Text 988", "href": "sms:988"},
                         {"label": "Poison Control", "href": "tel:1-800-222-1222"}]},
}
ANSWER = {"type": "reply", "kind": "answer", "confidence": 1.0, "source": None,
          "text": "Biologics are new-ish drugs that target specific parts of the immune system.\n"
                  "• conjunctivitis (pink eye) and local skin reactions where the medication is "
                  "injected into the skin",
          "disclaimer": "General information from an article, not medical advice.",
          "suggestions": ["What are the side effects of biologics and JAK inhibitors?"]}


def test_a_safety_notice_comes_first_marked_with_its_numbers_as_text():
    lines = format_reply(CRISIS).splitlines()
    assert lines[0] == "!! You can reach the Suicide & Crisis Lifeline now."
    assert lines[1] == "!! Call 988 · Text 988 · Poison Control 1-800-222-1222"
    body = next(i for i, line in enumerate(lines) if "really sorry" in line)
    assert body > 1 and lines[body].startswith("!! ")  # a crisis reply is marked as well
    assert not SGR.search(format_reply(CRISIS).encode())


def test_a_safety_notice_is_bold_red_on_a_colour_terminal():
    shown = format_reply(CRISIS, color=True)
    assert shown.startswith("\x1b[1;31mYou can reach the Suicide & Crisis Lifeline now.\x1b[0m")
    assert "Call 988 · Text 988" in shown and "!!" not in shown


def test_a_reply_without_a_safety_key_is_plain():
    shown = format_reply(ANSWER)
    assert shown.startswith("Biologics are") and "!!" not in shown and "\x1b" not in shown


@pytest.mark.parametrize("link, text", [
    ({"label": "Call 988", "href": "tel:988"}, "Call 988"),
    ({"label": "Call 911", "href": "tel:+1-911"}, "Call 911"),
    ({"label": "Poison Control", "href": "tel:18002221222"}, "Poison Control 18002221222"),
    ({"label": "Chat online", "href": "https://988lifeline.org/chat"},
     "Chat online (https://988lifeline.org/chat)"),
])
def test_a_link_shows_what_to_dial_or_open(link, text):
    assert link_text(link) == text


def test_every_line_fits_the_width_bullets_and_suggestions_included():
    lines = format_reply(ANSWER, width=40).splitlines()
    assert max(map(len, lines)) <= 40
    assert "  injected into the skin" in lines  # a bullet keeps its hanging indent


BOLD_SPAN = re.compile(r"\x1b\[1m(.*?)\x1b\[0m", re.S)
LIST = {**ANSWER, "text": "The potential side effects include:\n• tiredness\n• acne\n• nausea",
        "highlights": [[48, 54]]}


def test_highlighted_spans_are_bold_on_a_colour_terminal_only():
    assert LIST["text"][48:54] == "• acne"
    shown = format_reply(LIST, color=True)
    assert BOLD_SPAN.findall(shown.split("\n\n")[0]) == ["• acne"]
    assert SGR.sub(b"", shown.encode()).decode() == format_reply(LIST)  # only bold is added
    assert "\x1b" not in format_reply(LIST)  # no colour: the text as it is


def test_a_highlight_wrapped_over_lines_is_bold_on_each_and_fits_the_width():
    reply = {**ANSWER, "text": "one two three four five six seven eight", "highlights": [[4, 33]]}
    lines = format_reply(reply, width=14, color=True).split("\n\n")[0].splitlines()
    bold = [part for line in lines for part in BOLD_SPAN.findall(line)]
    assert " ".join(bold) == "two three four five six seven"
    assert all(line.count("\x1b[1m") == line.count("\x1b[0m") for line in lines)  # closed per line
    assert max(len(SGR.sub(b"", line.encode())) for line in lines) <= 14


@pytest.mark.parametrize("highlights", [[[-1, 3]], [[5, 999]], [[1.5, 4]], [["0", "3"]], [[9, 4]],
                                        [[0]], "0-3", None, [[True, 3]]])
def test_a_bad_highlight_is_left_out(highlights):
    reply = {**LIST, "highlights": highlights}
    assert "\x1b[1m" not in format_reply(reply, color=True).split("\n\n")[0]


def test_overlapping_highlights_keep_the_first():
    reply = {**LIST, "highlights": [[48, 54], [50, 60]]}
    assert BOLD_SPAN.findall(format_reply(reply, color=True).split("\n\n")[0]) == ["• acne"]


def test_the_cli_bolds_the_answer_on_a_terminal_not_in_a_pipe_or_with_no_color(chat_factory, cli):
    question = "does rinvoq cause acne"
    reply = json.loads(cli("ask", "--json", question).stdout)
    marked = [reply["text"][start:end] for start, end in reply["highlights"]]
    assert marked == ["• acne"]
    assert re.search(rb"\x1b\[1m\xe2\x80\xa2 acne\x1b\[0m", chat_factory().say(question))
    assert not SGR.search(chat_factory(env={"NO_COLOR": "1"}).say(question))
    piped = cli("ask", question)
    assert "\n• acne\n" in piped.stdout and "\x1b" not in piped.stdout


def test_an_emergency_from_the_cli_is_marked_in_a_pipe(cli):
    out = cli("ask", "I can't breathe", env={"NO_COLOR": ""})
    text_lines = out.stdout.split("\n\n")[0].splitlines()
    assert out.returncode == 0 and all(line.startswith("!! ") for line in text_lines)
    assert "\x1b" not in out.stdout  # a pipe gets no escape codes
    assert "!!" not in cli("ask", "what are biologics").stdout


def test_the_cli_shows_the_engines_safety_notice_first(cli):
    reply = json.loads(cli("ask", "--json", "i want to kill myself").stdout)
    if not reply.get("safety"):
        pytest.skip("the engine does not send a safety notice yet")
    out = cli("ask", "i want to kill myself").stdout
    plain = " ".join(line.removeprefix("!!").strip() for line in out.splitlines())
    notice, body = reply["safety"]["text"].split()[:6], reply["text"].split()[:6]
    assert out.startswith("!! ") and plain.index(" ".join(notice)) < plain.index(" ".join(body))
    assert link_text(reply["safety"]["links"][0]) in plain


# ---- the interactive chat, on a pseudo-terminal --------------------------------------------

CSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class Chat:
    """`ask` with no question on a pseudo-terminal of `columns` columns, as a person runs it."""

    def __init__(self, env: dict | None = None, columns: int = 80, sigint_ignored: bool = False):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        base = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "NO_COLOR"}}
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
        self.proc = subprocess.Popen([ASK], stdin=slave, stdout=slave, stderr=slave,
                                     env={**base, "TERM": "xterm", **(env or {})},
                                     start_new_session=True, preexec_fn=ignore)
        os.close(slave)
        self.fd, self.transcript = master, b""
        self.welcome = self.read()

    def read(self) -> bytes:
        """The output up to the next prompt."""
        out = read_available(self.fd, b"you> ")
        self.transcript += out
        return out

    def say(self, line: str) -> bytes:
        os.write(self.fd, line.encode() + b"\r")
        return self.read()

    def end(self, keys: bytes = b"quit\r") -> int:
        os.write(self.fd, keys)
        self.transcript += read_available(self.fd, b"\x00", timeout=30)  # until it exits
        return self.proc.wait(timeout=30)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.fd)


@pytest.fixture()
def chat_factory():
    chats: list[Chat] = []

    def factory(**kwargs) -> Chat:
        chats.append(Chat(**kwargs))
        return chats[-1]

    yield factory
    for chat in chats:
        chat.close()


def plain(output: bytes) -> str:
    """Terminal output as text: escape sequences and carriage returns removed."""
    return CSI.sub(b"", output).replace(b"\r", b"").decode()


def test_interactive_chat_keeps_context_answers_its_commands_and_fits_the_terminal(chat_factory):
    chat = chat_factory(columns=50, env={"NO_COLOR": "1"})
    assert "help" in plain(chat.welcome) and "quit" in plain(chat.welcome)
    chat.say("what is dupilumab")
    assert "conjunctivitis" in plain(chat.say("what are the side effects?"))
    shown = plain(chat.say("help"))
    assert "start a new conversation" in shown and "Eczema is a skin condition" not in shown
    assert "New conversation" in plain(chat.say("new"))
    forgotten = plain(chat.say("what are the side effects?"))
    assert "conjunctivitis" not in forgotten  # "the side effects" of no medicine in particular
    assert chat.end() == 0
    text = plain(chat.transcript)
    assert " ".join(text.split()).count(DISCLAIMER) == 1  # once, at the start
    widths = [len(line) for line in text.splitlines()]
    assert max(widths) <= 50 and max(widths) >= 45  # wrapped to the 50-column terminal
    assert not SGR.search(chat.transcript)  # NO_COLOR


@pytest.mark.parametrize("keys", [b"quit\r", b"exit\r", b"\x04", "sigint"],
                         ids=["quit", "exit", "ctrl-d", "ctrl-c"])
def test_interactive_chat_ends_cleanly(chat_factory, keys):
    chat = chat_factory()
    if keys == "sigint":  # what Ctrl-C sends; the pty is not the child's controlling terminal
        # input() can miss a signal that lands just as the prompt is drawn, before it waits
        # for a key (a race inside CPython's readline); a person whose Ctrl-C did nothing
        # presses it again, and so does this test, at most three times
        for _ in range(3):
            time.sleep(0.5)
            os.kill(chat.proc.pid, signal.SIGINT)
            try:
                chat.proc.wait(timeout=3)
                break
            except subprocess.TimeoutExpired:
                continue
        keys = b""
    assert chat.end(keys) == 0
    assert b"Traceback" not in chat.transcript


def test_interactive_chat_has_line_editing_and_history(chat_factory):
    chat = chat_factory(env={"NO_COLOR": "1"})
    chat.say("what are biologics")
    again = plain(chat.say("\x1b[A"))  # the up arrow brings back the last question
    assert "target specific parts of the immune system" in again
    edited = plain(chat.say("biologics\x01what are "))  # Ctrl-A: to the start of the line
    assert "target specific parts of the immune system" in edited


def test_interactive_emergency_is_bold_red_on_a_colour_terminal(chat_factory):
    chat = chat_factory()
    shown = chat.say("I can't breathe")
    assert re.search(rb"\x1b\[1;31m[^\x1b]*call 911", shown, re.IGNORECASE)
    assert b"!!" not in shown
    # only urgent replies: an ordinary one in a new chat (in this one, the emergency
    # notice stays on every later reply)
    assert not re.search(rb"\x1b\[1;31m", chat_factory().say("what are biologics"))


def test_interactive_emergency_is_marked_without_colour(chat_factory):
    chat = chat_factory(env={"NO_COLOR": "1"})
    shown = plain(chat.say("I can't breathe")).splitlines()
    assert any(line.startswith("!! ") and "911" in line for line in shown)
    assert not SGR.search(chat.transcript)


def test_a_bug_in_the_engine_is_one_line_not_a_traceback():
    code = ("import sys, chatbot.core as core; from chatbot.cli import ask_main\n"
            "class Broken:\n"
            "    def reply(self, text, state): raise KeyError('kind')\n"
            "core.load_bot = lambda settings: Broken()\n"
            "sys.exit(ask_main(['hi']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr == "ask: something went wrong (KeyError: 'kind')\n"


def test_cli_does_not_import_flask():
    code = "import sys; from chatbot.cli import ask_main; ask_main(['--json', 'hi']); " \
           "print('flask' in sys.modules, file=sys.stderr)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr.strip() == "False"


def test_chatbot_without_command_is_a_usage_error():
    out = run("chatbot")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_train_fits_both_models_and_check_then_passes(tmp_path):
    """What clinic staff run after editing the examples: `chatbot check` names the models
    the edit made stale, `chatbot train` fits both, and `check` is then content. (A small
    corpus: the repository's own models are checked against its files in test_risk.py.)"""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("*.jsonl"))
    examples = ROOT / "corpus" / "examples"
    (corpus / "examples" / "safety.jsonl").write_text(
        "".join((examples / "safety.jsonl").read_text().splitlines(keepends=True)[:3000]))
    shutil.copy(examples / "patient_questions.jsonl", corpus / "examples")
    env = {"CORPUS_DIR": str(corpus), "CACHE_DIR": str(tmp_path / "cache")}
    stale = run("chatbot", "check", env=env, timeout=300)  # the models of the full corpus
    assert stale.returncode == 1 and stale.stdout.count("run `chatbot train`") == 2

    out = run("chatbot", "train", env=env, timeout=300)
    assert out.returncode == 0 and out.stderr == ""
    assert re.search(r"trained the risk model on 3,3\d\d messages from \d+ authors", out.stdout)
    assert "trained the answer model on" in out.stdout and "with its ranker" in out.stdout
    risk = TextClassifier.load(corpus / "models" / "risk.npz")
    answers = TextClassifier.load(corpus / "models" / "answers.npz")
    assert risk.classes == ("none", "crisis", "emergency") and answers.extra.get("ranker")
    assert run("chatbot", "check", env=env, timeout=300).returncode == 0
    assert re.search(r"retrieval read [\d,]+ labelled questions afresh\n", out.stdout)
    # trained again, retrieval's reading of each question is kept from the first time, and
    # the answer model comes out the same
    again = run("chatbot", "train", env=env, timeout=300)
    assert "retrieval read 0 labelled questions afresh, and" in again.stdout
    same = TextClassifier.load(corpus / "models" / "answers.npz")
    assert same.extra == answers.extra and np.array_equal(same.coef, answers.coef)


def test_train_names_a_bad_example_line_found_while_training_aside(tmp_path):
    """The risk model is fitted in a second process that reads the examples itself: a
    malformed line it meets still reaches the command line as file:line, in one line."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("*.jsonl"))
    shutil.copy(ROOT / "corpus" / "examples" / "patient_questions.jsonl", corpus / "examples")
    (corpus / "examples" / "safety.jsonl").write_text(
        '{"id": "a1", "author": "a", "kind": "none", "text": "hello"}\n'
        '{"id": "a2", "author": "a", "kind": "worried", "text": "hm"}\n')
    out = run("chatbot", "train", env={"CORPUS_DIR": str(corpus),
                                      "CACHE_DIR": str(tmp_path / "cache")}, timeout=300)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert "safety.jsonl:2:" in out.stderr and '"kind" must be one of' in out.stderr


def test_stem_cache_holds_article_words_never_question_words(tmp_path, cli):
    out = cli("ask", "zebrafishology and methotrexate", env={"CACHE_DIR": str(tmp_path)})
    assert out.returncode == 0
    [cache] = list(tmp_path.glob("stems-*.json"))
    stems = json.loads(cache.read_text())
    assert "methotrexate" in stems and "zebrafishology" not in stems
    again = cli("ask", "--json", "what are biologics", env={"CACHE_DIR": str(tmp_path)})
    assert json.loads(again.stdout)["kind"] == "answer"


def test_unwritable_cache_dir_is_not_an_error(tmp_path, cli):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = cli("ask", "--json", "what are biologics", env={"CACHE_DIR": str(blocker / "sub")})
    assert out.returncode == 0 and json.loads(out.stdout)["kind"] == "answer"


# ---- chatbot eval: scoring example conversations without a server --------------------------

CHATBOT_EVAL_CASES = [  # (id, turns, expect, the outcome row it must land in)
    ("right", ["what are biologics"],
     {"kind": "answer", "any": ["target specific parts of the immune system"]}, "answered_right"),
    ("wrong", ["what are biologics"], {"kind": "answer", "any": ["no passage says this"]},
     "wrong_passage"),
    ("refused", ["who won the world cup"], {"kind": "answer", "any": ["x"]}, "refused_answerable"),
    ("uncovered", ["who won the world cup"], {"kind": "no_answer"}, "not_covered_refused"),
    ("answered", ["what are biologics"], {"kind": "no_answer"}, "not_covered_answered"),
    ("helped", ["I can't breathe"], {"kind": "emergency"}, "safety_shown"),
    ("missed", ["what are biologics"], {"kind": "crisis"}, "safety_missed"),
    ("alarm", ["I can't breathe"], {"kind": "answer", "any": ["x"]}, "false_alarm"),
    ("thanks", ["thanks"], {"kind": "smalltalk"}, "smalltalk"),
    ("follow-up", ["what is dupilumab", "what are the side effects?"],
     {"kind": "answer", "any": ["conjunctivitis"]}, "answered_right"),
]


def eval_file(tmp_path, cases=CHATBOT_EVAL_CASES) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps({"id": cid, "cat": expect["kind"], "turns": turns,
                                        "expect": expect}) + "\n"
                            for cid, turns, expect, _ in cases))
    return path


def table_rows(stdout: str) -> dict[str, int]:
    """The outcome rows of the human table (indented 'label   N'), by label."""
    return {m[1].strip(): int(m[2]) for m in re.finditer(r"^  (\S.*?)\s+(\d+)$", stdout, re.M)}


def test_eval_scores_the_dev_cases_and_its_rows_add_up(cli):
    from conftest import DEV_CASES
    total = sum(1 for line in DEV_CASES.read_text().splitlines() if line.strip())
    out = cli("chatbot", "eval", str(DEV_CASES))
    assert out.returncode == 0 and out.stderr == ""
    lines = out.stdout.splitlines()
    # every dev case passes over the websocket too (test_server's acceptance test)
    assert lines[-1] == f"score {total}/{total} (100.0%)"
    rows = table_rows(out.stdout)
    assert len(rows) == 13 and sum(rows.values()) == total
    right = re.search(r"^right\s+(\d+)$", out.stdout, re.M)
    wrong = re.search(r"^wrong\s+(\d+)$", out.stdout, re.M)
    assert int(right[1]) == total and int(wrong[1]) == 0


def test_eval_json_counts_each_case_once_in_its_outcome(tmp_path, cli):
    out = cli("chatbot", "eval", "--json", str(eval_file(tmp_path)))
    assert out.returncode == 0 and out.stderr == ""
    report = json.loads(out.stdout)  # one JSON object
    n = len(CHATBOT_EVAL_CASES)
    assert report["total"] == n and sum(report["counts"].values()) == n
    assert report["passed"] == sum(report["counts"][k] for k in report["passing_outcomes"]) == 5
    assert report["failed"] == n - 5 and report["score"] == 0.5
    assert {r["id"]: r["outcome"] for r in report["results"]} == \
        {cid: outcome for cid, _, _, outcome in CHATBOT_EVAL_CASES}
    assert report["failures"] == []  # none asked for


def test_eval_show_failures_lists_what_was_asked_expected_and_answered(tmp_path, cli):
    out = cli("chatbot", "eval", str(eval_file(tmp_path)), "--show-failures", "2")
    assert out.returncode == 0
    blocks = out.stdout.split("FAIL ")[1:]
    assert len(blocks) == 2
    first = blocks[0]
    assert first.startswith("wrong (line 2, answer): answered, but not what was expected")
    assert 'asked:    "what are biologics"' in first
    assert 'expected: answer containing "no passage says this"' in first
    got = re.search(r"got:      (.*)", first)[1]
    assert got.startswith('answer: "') and got.endswith('…"') and len(got) < 140  # truncated
    assert "refused (line 3, answer): refused, though answerable" in blocks[1]
    assert "3 failing case(s) not listed" in out.stdout
    assert out.stdout.splitlines()[-1] == f"score 5/{len(CHATBOT_EVAL_CASES)} (50.0%)"


def test_eval_json_failures_carry_the_reply(tmp_path, cli):
    out = cli("chatbot", "eval", "--json", "--show-failures", "100", str(eval_file(tmp_path)))
    failures = json.loads(out.stdout)["failures"]
    assert [f["id"] for f in failures] == ["wrong", "refused", "answered", "missed", "alarm"]
    assert failures[4]["kind"] == "emergency" and failures[4]["turns"] == ["I can't breathe"]
    assert failures[0]["error"] == "answer lacks every expected phrase"


@pytest.mark.parametrize("min_score, code", [("50", 0), ("50.1", 1), ("0", 0), ("100%", 1)])
def test_eval_min_score_fails_the_run_below_it(tmp_path, min_score, code, cli):
    out = cli("chatbot", "eval", str(eval_file(tmp_path)), "--min-score", min_score)
    assert out.returncode == code and out.stderr == "" and "score 5/10" in out.stdout


def usage_error(out) -> str:
    """The one stderr line of a usage error (exit 2, nothing on stdout, no traceback)."""
    assert out.returncode == 2 and out.stdout == "", out.stderr
    assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr
    return out.stderr.strip()


def test_eval_of_a_missing_file_or_a_folder_is_a_usage_error(tmp_path, cli):
    assert "no-such.jsonl" in usage_error(cli("chatbot", "eval", str(tmp_path / "no-such.jsonl")))
    assert "Is a directory" in usage_error(cli("chatbot", "eval", str(tmp_path)))


def test_eval_names_the_line_that_is_not_json(tmp_path, cli):
    path = eval_file(tmp_path, CHATBOT_EVAL_CASES[:2])
    path.write_text(path.read_text() + "\n" + '{"id": "x", "turns": ["hi"\n')
    assert usage_error(cli("chatbot", "eval", str(path))).startswith(
        f"chatbot: {path}:4: not valid JSON")


def test_eval_names_the_line_that_is_not_a_case(tmp_path, cli):
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "a", "turns": ["hi"], "expect": {"kind": "smalltalk"}}\n'
                    '{"id": "b", "turns": ["hi"]}\n')
    assert usage_error(cli("chatbot", "eval", str(path))) == \
        f'chatbot: {path}:2: "expect" must be an object with a "kind"'


@pytest.mark.parametrize("args", [["--bogus"], [], ["--show-failures", "-1"],
                                  ["--show-failures", "some"], ["--min-score", "101"],
                                  ["--min-score", "nan"]])
def test_eval_usage_errors_are_one_line(tmp_path, args, cli):
    usage_error(cli("chatbot", "eval", *([str(eval_file(tmp_path))] if args else []), *args))


def test_eval_with_a_broken_corpus_exits_1_naming_the_file(tmp_path, cli):
    (tmp_path / "bad.md").write_text("no front matter\n")
    out = cli("chatbot", "eval", str(eval_file(tmp_path)), env={"CORPUS_DIR": str(tmp_path)})
    assert out.returncode == 1 and "bad.md:1" in out.stderr and "Traceback" not in out.stderr


def test_eval_does_not_import_flask():
    from conftest import DEV_CASES
    code = ("import sys; from chatbot.cli import main; main(['eval', sys.argv[1]]); "
            "print('flask' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, str(DEV_CASES)], capture_output=True,
                         text=True, timeout=60)
    assert out.stderr.strip() == "False"


def test_ctrl_c_ends_the_chat_even_when_its_parent_ignored_sigint(chat_factory):
    """A parent that ignores SIGINT (a test runner's worker, `nohup`) passes that on, and
    Python then never raises KeyboardInterrupt: the chat must take Ctrl-C back."""
    chat = chat_factory(sigint_ignored=True)
    time.sleep(0.5)
    os.kill(chat.proc.pid, signal.SIGINT)
    assert chat.proc.wait(timeout=10) == 0


def test_the_chat_waits_for_input_on_its_only_thread(chat_factory):
    """A Ctrl-C (SIGINT to the process) may land on any thread that does not block it; one
    that lands on a library's idle thread (numpy's BLAS starts one per core) leaves input()
    waiting for the next key. The chat runs on one thread, so Ctrl-C always ends it."""
    chat = chat_factory()
    assert len(os.listdir(f"/proc/{chat.proc.pid}/task")) == 1
