"""The terminal front end: `ask "question"`, `chatbot serve`, and `chatbot eval`, which scores
the bot on a file of example conversations in-process (chatbot/evaluation.py).

All are thin layers over `Bot.reply`. Flask is imported only by `serve`, so
`ask` starts about as fast as importing nltk and rank_bm25 themselves.
"""
from __future__ import annotations

import argparse
from collections import Counter
import gc
import json
import os
import shutil
import signal
import sys
import textwrap
from typing import Iterable

from chatbot.config import ConfigError, Settings

ASK_EXAMPLES = """\
examples:
  ask "can I take methotrexate if I'm pregnant"
  ask "dupixent pink eye"
  ask --json "side effects of cyclosporine"
  ask < questions.txt      (one question per line, each answered in turn, with context)
  ask                      (no question: an interactive chat that keeps context)
"""

CHAT_HELP = [
    'Ask about systemic eczema medicines in your own words, e.g. "what are the side effects '
    'of Dupixent?". A follow-up such as "is it safe in pregnancy?" is read in the light of '
    'what you asked before.',
    "",
    ("help", "show this help"),
    ("new", "start a new conversation (forget what we talked about)"),
    ("quit", "leave the chat (also: exit, or Ctrl-D)"),
]

# What the interactive chat answers itself; nothing here is sent to the engine.
CHAT_COMMANDS = {"help": "help", "?": "help", "new": "new",
                 "quit": "quit", "exit": "quit", "bye": "quit"}
URGENT_KINDS = {"emergency", "crisis"}
MARK = "!! "  # stands in for colour: it survives pipes, logs, screen readers and NO_COLOR
BOLD, DIM, URGENT, RESET = "\033[1m", "\033[2m", "\033[1;31m", "\033[0m"
MAX_WIDTH = 100  # wider lines of prose are hard to read, however wide the terminal
HL_ON, HL_OFF = "\ue000", "\ue001"  # private-use stand-ins for bold on and off while wrapping


class UsageError(Exception):
    """A mistake in how the command was called; exits 2 with one line on stderr."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message: str):
        raise UsageError(message)


def _ask_parser() -> argparse.ArgumentParser:
    """The arguments of `ask`; examples in --help, since most users learn from them."""
    p = _Parser(prog="ask", description="Ask the eczema-medicines article a question.",
                epilog=ASK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", nargs="*", help="your question (quote it or not)")
    p.add_argument("--json", action="store_true",
                   help="print the reply object as JSON (one line per reply for questions "
                        "read from standard input)")
    return p


# ---- how a reply looks ------------------------------------------------------------------

def use_color(stream) -> bool:
    """Colour only for a person at a terminal who has not opted out (https://no-color.org);
    a pipe or a file gets plain text with markers instead of escape codes."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR") \
        and os.environ.get("TERM") != "dumb"


def terminal_width() -> int:
    """The terminal's width now (it can be resized between turns), less one column so a full
    line does not wrap by itself, capped at MAX_WIDTH for readability."""
    columns = shutil.get_terminal_size((80, 24)).columns
    return max(20, min(columns - 1, MAX_WIDTH))


def _paint(text: str, code: str, color: bool) -> str:
    """`text` in an ANSI style, line by line so a wrapped block stays styled on every line."""
    if not color:
        return text
    return "\n".join(f"{code}{line}{RESET}" if line else line for line in text.split("\n"))


def _wrap(text: str, width: int, first: str = "", rest: str | None = None) -> str:
    """textwrap.fill with a first-line and a hanging indent; an empty text stays empty."""
    return textwrap.fill(text, width, initial_indent=first,
                         subsequent_indent=first if rest is None else rest) or first.rstrip()


def _paragraphs(text: str, width: int) -> list[str]:
    """The reply text wrapped paragraph by paragraph; a bullet keeps a hanging indent."""
    out = []
    for para in text.split("\n"):
        stripped = para.strip()
        if stripped.lstrip(HL_ON).startswith("•"):
            lead = para[:len(para) - len(para.lstrip())]
            out.append(_wrap(stripped, width, lead, lead + "  "))
        else:
            out.append(_wrap(stripped, width))
    return out


def _spans(highlights, length: int) -> list[tuple[int, int]]:
    """The reply's highlights that can be shown: pairs of whole numbers within the text,
    not empty and not overlapping an earlier span (those are left out)."""
    found = sorted(
        (span[0], span[1]) for span in (highlights if isinstance(highlights, list) else [])
        if isinstance(span, (list, tuple)) and len(span) == 2
        and all(type(n) is int for n in span) and 0 <= span[0] < span[1] <= length)
    kept: list[tuple[int, int]] = []
    for start, end in found:
        if not kept or start >= kept[-1][1]:
            kept.append((start, end))
    return kept


def _highlighted(text: str, highlights, width: int) -> list[str]:
    """The reply text wrapped as by _paragraphs, with the highlighted spans (the parts that
    answer the question) in bold. Stand-in characters mark the spans while the text is
    wrapped, so a span keeps to its words; bold is closed at the end of every line and opened
    again on the next, so a span wrapped over lines is bold on each of them."""
    spans = _spans(highlights, len(text))
    if not spans or HL_ON in text or HL_OFF in text:
        return _paragraphs(text, width)
    for start, end in reversed(spans):
        text = text[:start] + HL_ON + text[start:end] + HL_OFF + text[end:]
    out, bold = [], False
    for line in "\n".join(_paragraphs(text, width)).split("\n"):
        shown = (BOLD if bold else "") + line.replace(HL_ON, BOLD).replace(HL_OFF, RESET)
        if HL_ON in line or HL_OFF in line:  # else the line is all in or all out of a span
            bold = line.rfind(HL_ON) > line.rfind(HL_OFF)
        out.append(shown + (RESET if bold else ""))
    return out


def _urgent(block: str, color: bool) -> str:
    """An emergency or crisis block: bold red on a colour terminal, else every line marked."""
    if color:
        return _paint(block, URGENT, True)
    return "\n".join(MARK + line if line else MARK.rstrip() for line in block.split("\n"))


def _urgent_width(width: int, color: bool) -> int:
    """The width to wrap an urgent block at: room is left for the marker without colour."""
    return width if color else width - len(MARK)


def link_text(link: dict) -> str:
    """A safety link as text a person can act on without a browser: 'Call 988', or the label
    with the number or address when the label does not already show it."""
    label, href = str(link.get("label", "")).strip(), str(link.get("href", "")).strip()
    scheme, _, target = href.partition(":")
    if scheme.lower() in {"tel", "sms"}:
        target = target.lstrip("/").split("?")[0]
        digits = "".join(c for c in target if c.isdigit())
        shown = "".join(c for c in label if c.isdigit())
        # 'Call 911' for tel:+1-911: the label shows the number without a country code
        if len(shown) >= 3 and (shown in digits or digits in shown):
            return label
        return f"{label} {target}".strip()
    if href and href not in label:
        return f"{label} ({href})" if label else href
    return label


def _safety_block(safety: dict, width: int, color: bool) -> str:
    """The safety notice: its text, then its links as plain 'Call 988 · Text 988'."""
    inner = _urgent_width(width, color)
    lines = [_wrap(str(safety.get("text", "")).strip(), inner)]
    links = [t for t in (link_text(link) for link in safety.get("links") or []) if t]
    if links:
        lines.append(_wrap(" · ".join(links), inner))
    return _urgent("\n".join(line for line in lines if line), color)


def format_reply(reply: dict, width: int = 78, color: bool = False,
                 disclaimer: bool = True) -> str:
    """A reply as a person reads it in a terminal: any safety notice first and emphasised,
    then the text (emphasised too for an emergency or crisis; on a colour terminal, the
    highlighted parts that answer the question in bold), source, suggestions and, unless
    the chat already showed it, the disclaimer."""
    out = []
    safety = reply.get("safety")  # .get: older engines send no "safety" key
    if safety:
        out += [_safety_block(safety, width, color), ""]
    if reply.get("kind") in URGENT_KINDS:
        inner = _urgent_width(width, color)
        out.append(_urgent("\n".join(_paragraphs(reply["text"], inner)), color))
    elif color:  # the highlights in bold; without colour the text stays as it is
        out += _highlighted(reply["text"], reply.get("highlights"), width)
    else:
        out += _paragraphs(reply["text"], width)
    src = reply.get("source")
    if src:
        credit = _wrap(f"— from “{src['section']}”, {src['title']} ({src['author']})", width)
        out += ["", _paint(credit, DIM, color)]
    if reply.get("suggestions"):
        out += ["", _paint("You could also ask:", BOLD, color)]
        out += [_wrap(s, width, "  • ", "    ") for s in reply["suggestions"]]
    if disclaimer and reply.get("disclaimer"):
        out += ["", _wrap(reply["disclaimer"], width)]
    return "\n".join(out)


# ---- the three ways to ask --------------------------------------------------------------

def _enable_line_editing() -> None:
    """Arrow keys, editing and this session's history at the prompt, where the platform has
    readline. No history file: questions about one's health stay off the disk (the server
    does not log them either unless LOG_QUESTIONS=1)."""
    try:
        import readline  # noqa: F401  (importing it is what makes input() use it)
    except ImportError:  # e.g. Windows, or a Python built without it: plain input() still works
        pass


def _chat_command(line: str) -> str | None:
    """'help', 'new' or 'quit' when the line is one of the chat's own commands ('/quit' and
    'Quit.' too), else None: the line is a question for the engine."""
    return CHAT_COMMANDS.get(line.strip().lstrip("/").rstrip(".!").strip().lower())


def _chat_help(width: int) -> str:
    """The chat's help, wrapped to the terminal like everything else it prints."""
    return "\n".join(_wrap(f"  {item[0]:<6} {item[1]}", width, "", " " * 9)
                     if isinstance(item, tuple) else _wrap(item, width) for item in CHAT_HELP)


def _print_welcome(welcome: dict, width: int, color: bool) -> None:
    """The greeting, the disclaimer (shown once here rather than after every reply), a few
    questions to start with and how to get help."""
    print(_wrap(welcome["text"], width))
    if welcome.get("disclaimer"):
        print("\n" + _wrap(welcome["disclaimer"], width))
    if welcome.get("suggestions"):
        print("\n" + _paint("You could ask:", BOLD, color))
        print("\n".join(_wrap(s, width, "  • ", "    ") for s in welcome["suggestions"]))
    print("\n" + _paint("Type a question, or help, new or quit.", DIM, color) + "\n")


def _interactive(bot) -> int:
    """A chat in the terminal that keeps context between questions until Ctrl-D or 'quit'."""
    gc.enable()  # a long session: collect cycles again (see ask_main)
    # Ctrl-C ends the chat even when `ask` was started with SIGINT ignored (a parent that
    # ignores it passes that on, and Python then never raises KeyboardInterrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _enable_line_editing()
    color = use_color(sys.stdout)
    welcome = bot.welcome()
    _print_welcome(welcome, terminal_width(), color)
    state = None  # a new conversation (the engine's State after the first reply)
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        command = _chat_command(line)
        if command == "quit":
            return 0
        if command == "help":
            print(_chat_help(terminal_width()) + "\n")
        elif command == "new":
            state = None
            print(_paint("New conversation: earlier questions are forgotten.", DIM, color) + "\n")
        elif line:
            reply, state = bot.reply(line, state)
            # The disclaimer was shown at the start; a reply with another one still shows it.
            again = reply.get("disclaimer") != welcome.get("disclaimer")
            print(format_reply(reply, terminal_width(), color, disclaimer=again) + "\n")


def _answer_lines(bot, lines: Iterable[str], as_json: bool) -> int:
    """One reply per non-blank line, in order, each line a follow-up of the ones before (as
    in the chat). Each reply is flushed as soon as it is made, so a program that writes one
    question and waits gets its answer. Returns 2 when there was no question at all."""
    color = use_color(sys.stdout)
    width = terminal_width() if sys.stdout.isatty() else 78
    state = None  # a new conversation (the engine's State after the first reply)
    answered = 0
    for line in lines:
        question = line.strip()
        if not question:
            continue
        reply, state = bot.reply(question, state)
        if as_json:  # JSON Lines: one reply object per line
            print(json.dumps(reply, ensure_ascii=False))
        else:
            print(("\n" if answered else "") + _paint(f"> {question}", BOLD, color))
            print(format_reply(reply, width, color))
        sys.stdout.flush()
        answered += 1
    if not answered:
        print("ask: no question given (see ask --help)", file=sys.stderr)
        return 2
    return 0


def _ask(argv: list[str] | None) -> int:
    """`ask` itself: a question from the arguments, lines on standard input, or a chat."""
    # Loading makes a few hundred thousand objects that all live until exit; the cycle
    # collector would rescan them again and again (about 30 ms of a one-question run).
    gc.disable()
    try:
        args = _ask_parser().parse_args(argv)
        question = " ".join(args.question).strip()
        if args.question and not question:
            raise UsageError("the question is empty; try: ask \"what are biologics\"")
        settings = Settings.from_env()
        from chatbot.core import load_bot
        bot = load_bot(settings)
    except UsageError as exc:
        print(f"ask: {exc} (see ask --help)", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"ask: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a broken corpus: say what is wrong, no traceback
        print(f"ask: {exc}", file=sys.stderr)
        return 1
    if not question:
        if sys.stdin.isatty():
            return _interactive(bot)
        sys.stdin.reconfigure(errors="replace")  # bytes that are not UTF-8: no traceback
        return _answer_lines(bot, sys.stdin, args.json)
    reply, _ = bot.reply(question, {})
    if args.json:
        print(json.dumps(reply, indent=2, ensure_ascii=False))
    else:
        tty = sys.stdout.isatty()
        print(format_reply(reply, terminal_width() if tty else 78, use_color(sys.stdout)))
    return 0


def _stdout_to_devnull() -> None:
    """Points file descriptor 1 at /dev/null, so the interpreter's last flush of what is
    still buffered cannot fail again and print 'Exception ignored ... BrokenPipeError'
    (the recipe in Python's signal module documentation)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def ask_main(argv: list[str] | None = None) -> int:
    """Entry point of `ask`.

    A reader that stops early (`ask ... | head -2`, `| true`, a closed pager) ends `ask`
    quietly with 0: the replies were made and the reader took what it wanted, so that is
    not a failure of `ask` (a script under `set -o pipefail` should not fail because of
    it), and a traceback or 141 would only alarm the person reading. Ctrl-C ends with 130,
    the shell's convention, and a bug with 1 and one line on stderr, neither with a
    traceback.
    """
    try:
        try:
            return _ask(argv)
        finally:
            sys.stdout.flush()  # inside the try: a pipe's buffered output is written here
    except BrokenPipeError:
        _stdout_to_devnull()
        return 0
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line a person can pass on, never a traceback
        print(f"ask: something went wrong ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of `chatbot`: `serve`, `train`, `check` and `eval`."""
    p = _Parser(prog="chatbot", description="The eczema-medicines chatbot.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="start the chat server (websocket, REST, widget)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sub.add_parser("train", help="train the risk and answer models on corpus/examples/ and "
                                 "save them in corpus/models/")
    check = sub.add_parser("check", help="validate the corpus and its examples; --cv also "
                                         "scores both models on authors they never saw")
    check.add_argument("--cv", action="store_true",
                       help="cross-validate by author (about a minute)")
    _eval_parser(sub)
    try:
        args = p.parse_args(argv)
        if args.command is None:
            raise UsageError("missing command; try: chatbot serve")
        if args.command == "serve" and not 0 < args.port < 65536:
            raise UsageError(f"--port must be 1-65535, got {args.port}")
        cases = _eval_cases(args) if args.command == "eval" else None
        settings = Settings.from_env()
    except (UsageError, ConfigError) as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return 2
    if args.command in ("train", "check"):
        try:
            code = _train(settings) if args.command == "train" else _check(settings, args.cv)
            sys.stdout.flush()
            return code
        except BrokenPipeError:  # `chatbot train | head -1`: the work is done and saved
            _stdout_to_devnull()
            return 0
    if args.command == "eval":
        return _eval(settings, args, cases)
    from chatbot.server import serve as run_server
    return run_server(settings, host=args.host, port=args.port) or 0


def _train(settings: Settings) -> int:
    """`chatbot train`: fits the risk and answer models and saves them with the corpus."""
    from chatbot.core.answers import ANSWER_MODEL_FILE, answer_examples
    from chatbot.core.corpus import CorpusError
    from chatbot.core.risk import MODEL_FILE
    from chatbot.training import risk_fitted_aside, train_corpus_answers
    folder = settings.corpus_dir
    try:
        with risk_fitted_aside(folder, settings.cache_dir) as risk:
            questions = answer_examples(folder, follow_ups=True)
            from chatbot.core import Bot
            from chatbot.views import SavedViews, views_key
            # the ranker's view of retrieval, kept between trainings for questions seen before
            bot = Bot(settings, judge_risk=False)
            bot.safety.prepare()  # every labelled conversation is replayed through the rules
            views = SavedViews(bot.question_view, settings.cache_dir,
                               views_key(folder, settings.min_confidence, settings.cache_dir))
            # one fit at a time beside retrieval's reading: the risk fit in the second
            # process is the longer and has the other core (22.0 s -> 19.1 s after an edit,
            # bench/training_time.py, nineteenth session)
            answers, answer_s = train_corpus_answers(folder, None, views, questions, jobs=1)
            risk_s, messages, authors = risk.result()
        views.save()
    except (CorpusError, OSError) as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return 1
    print(f"trained the risk model on {messages:,} messages from {authors} authors in "
          f"{risk_s:.1f} s: {folder / MODEL_FILE}")
    ranker = "with its ranker" if answers.ranker else "without a ranker (too few authors)"
    if answers.follow_ranker:
        ranker += " and the follow-ups' ranker"
    single = sum(not q.before for q in questions)
    print(f"trained the answer model on {single:,} questions ({len(answers.classes)} answers) "
          f"and {len(questions) - single:,} follow-ups, {ranker}, in {answer_s:.1f} s: "
          f"{folder / ANSWER_MODEL_FILE}")
    kept = len(views.used) - views.read
    print(f"retrieval read {views.read:,} labelled questions afresh"
          + (f", and {kept:,} as it read them at the last training (same engine, articles and "
             "lexicon)" if kept else ""))
    return 0


def _check(settings: Settings, cv: bool) -> int:
    """`chatbot check`: loads everything a server would, then looks for examples that
    contradict each other and a saved model that no longer matches its examples."""
    from chatbot.core import load_bot
    from chatbot.core.examples import example_files, load_examples, message_key
    from chatbot.core.answers import ANSWER_MODEL_FILE, AnswerModel, answer_examples, answer_files
    from chatbot.core.classifier import data_key
    from chatbot.core.risk import MODEL_FILE, RiskModel
    problems: list[str] = []
    try:
        bot = load_bot(settings)
        examples = load_examples(settings.corpus_dir)
        answer_examples(settings.corpus_dir)  # every "section" an example names exists
    except Exception as exc:  # a broken file: its own message names file:line
        print(f"chatbot: {exc}", file=sys.stderr)
        return 1
    seen: dict[str, tuple[str, str]] = {}
    for e in examples:
        key = message_key(e.text)
        if key in seen and seen[key][0] != e.kind:
            problems.append(f"{e.where}: labelled {e.kind}, but {seen[key][1]} labels the same "
                            f"message {seen[key][0]}")
        seen.setdefault(key, (e.kind, e.where))
    for saved, model, files in (
            (settings.corpus_dir / MODEL_FILE, RiskModel, example_files(settings.corpus_dir)),
            (settings.corpus_dir / ANSWER_MODEL_FILE, AnswerModel, answer_files(settings.corpus_dir))):
        if files and (not saved.exists() or model.load(saved).key != data_key(files)):
            problems.append(f"{saved}: trained on other files than the corpus holds now; "
                            "run `chatbot train`")
    for line in problems:
        print(line)
    kinds = Counter(e.kind for e in examples)
    print(f"{len(examples):,} examples ({', '.join(f'{n:,} {k}' for k, n in kinds.items())}) "
          f"from {len({e.author for e in examples})} authors: "
          + ("ok" if not problems else f"{len(problems)} problem(s)"))
    if cv:
        _print_cv(settings, examples, bot)
    return 1 if problems else 0


def _print_cv(settings: Settings, examples, bot) -> None:
    """Help shown and false alarms on authors left out of training (6 folds of authors)."""
    from chatbot.core.dialogue import fold
    from chatbot.core.safety import grade
    from chatbot.training import leave_one_author_out
    shown, sure, n = Counter(), Counter(), Counter()
    for e, risk in leave_one_author_out(examples, folds=6):
        level, is_sure = grade(bot.safety.check(fold(e.text)), risk)
        n[e.kind] += 1
        shown[e.kind] += level is not None
        sure[e.kind] += is_sure
    pct = lambda c, k: f"{100 * c[k] / n[k]:.1f}%"  # noqa: E731
    print(f"cross-validated by author: help shown to {pct(shown, 'crisis')} of crises and "
          f"{pct(shown, 'emergency')} of emergencies; ordinary messages derailed "
          f"{pct(sure, 'none')}, given a notice {100 * (shown['none'] - sure['none']) / n['none']:.1f}%")
    _print_answer_cv(settings, bot)


def _print_answer_cv(settings: Settings, bot) -> None:
    """How the labelled conversations fare with answer models that never saw their authors."""
    from chatbot.evaluation import cross_validate
    counts = cross_validate(bot, settings.corpus_dir, settings).counts()
    answerable = sum(counts[k] for k in ("answered_right", "wrong_passage", "refused_answerable"))
    not_covered = counts["not_covered_refused"] + counts["not_covered_answered"]
    if not answerable:
        return
    pct = lambda k, n: f"{100 * counts[k] / n:.1f}%"  # noqa: E731
    print(f"answers cross-validated by author: {pct('answered_right', answerable)} of "
          f"{answerable:,} answerable questions answered right, "
          f"{pct('wrong_passage', answerable)} with another passage, "
          f"{pct('refused_answerable', answerable)} refused"
          + (f"; {pct('not_covered_refused', not_covered)} of {not_covered:,} the article does "
             "not cover refused" if not_covered else ""))


# ---- chatbot eval -----------------------------------------------------------------------

EVAL_EXAMPLES = """\
examples:
  chatbot eval tests/shared/eval/dev_cases.jsonl
  chatbot eval cases.jsonl --show-failures 10
  chatbot eval cases.jsonl --json | jq .counts
  chatbot eval cases.jsonl --min-score 95      (exits 1 below 95%: for CI)

A case is one JSON object per line, as in ../shared/eval/dev_cases.jsonl:
  {"id": "d001", "cat": "answer", "turns": ["can I take methotrexate pregnant"],
   "expect": {"kind": "answer", "any": ["pregnancy category x"]}}
Each case is a new conversation; its last reply is judged by the rules of
../shared/eval/chat_eval.py. Exit status: 0 when it ran (whatever the score, unless
--min-score), 1 below --min-score or for a broken corpus, 2 for a usage error.
"""
FAILURE_TEXT = 120  # characters of a failing case's turns and reply shown in the table
JSON_TEXT = 300  # and in --json (as chat_eval.py keeps)


def _non_negative(raw: str) -> int:
    """--show-failures: a whole number of at least 0."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _percent(raw: str) -> float:
    """--min-score: a percentage, 0 to 100, as the score is printed (95, 92.5)."""
    try:
        value = float(raw.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a percentage from 0 to 100, got {raw!r}") from None
    if not 0 <= value <= 100:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a percentage from 0 to 100, got {raw!r}")
    return value


def _eval_parser(sub) -> None:
    """The arguments of `chatbot eval`; the case format is in --help, since staff who
    write cases need it more than they need the code."""
    from chatbot.evaluation import MAX_WORDS
    e = sub.add_parser(
        "eval", help="score the bot on example conversations (a JSON Lines file of cases) "
                     "without starting a server",
        description="Plays every case's turns through the engine, as the chat server would,\n"
                    "and judges each last reply with the rules of ../shared/eval/chat_eval.py.",
        epilog=EVAL_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("cases", metavar="CASES.jsonl", help="the conversations to score")
    e.add_argument("--json", action="store_true",
                   help="print one JSON object: the counts, the score and every case's verdict")
    e.add_argument("--show-failures", type=_non_negative, default=0, metavar="N",
                   help="list up to N failing cases: what was asked, expected and answered")
    e.add_argument("--min-score", type=_percent, default=None, metavar="PERCENT",
                   help="exit 1 when fewer than PERCENT %% of the cases pass (for CI)")
    e.add_argument("--max-words", type=_non_negative, default=MAX_WORDS, metavar="N",
                   help=f"longest answer that passes, in words (default {MAX_WORDS}, "
                        "as chat_eval.py)")


def _eval_cases(args) -> list:
    """The cases file read before the engine loads, so a typo in it is reported in a
    moment with its line number rather than after the corpus is indexed."""
    from pathlib import Path
    from chatbot.evaluation import CaseError, load_cases
    try:
        return load_cases(Path(args.cases))
    except CaseError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot read {args.cases}: {exc.strerror or exc}") from None


def _eval(settings: Settings, args, cases: list) -> int:
    """`chatbot eval`: the score of the engine on a file of conversations, in-process.

    The engine is loaded as the server loads it (`load_bot(settings).prepare()`, the same
    environment settings), so the figure is the one chat_eval.py would get from a server
    started here. Exits 0 whatever the score, because a score is a result and not a
    failure of the command; --min-score makes a low one exit 1 for CI.
    """
    from chatbot.core import load_bot
    from chatbot.evaluation import evaluate
    try:
        bot = load_bot(settings).prepare()
    except Exception as exc:  # a broken corpus file: its own message names file:line
        print(f"chatbot: {exc}", file=sys.stderr)
        return 1
    report = evaluate(bot, cases, settings, args.max_words)
    try:
        if args.json:
            print(json.dumps(_eval_json(report, args), ensure_ascii=False))
        else:
            print(_eval_text(report, args))
        sys.stdout.flush()
    except BrokenPipeError:  # `chatbot eval ... | head`: the reader had what it wanted
        _stdout_to_devnull()
    if args.min_score is not None and report.passed * 100 < args.min_score * report.total:
        return 1
    return 0


def _failure_detail(result, limit: int) -> dict:
    """A failing case as --json lists it: what was asked, expected and answered."""
    reply = result.reply
    return {"id": result.case.id, "line": result.case.line, "cat": result.case.cat,
            "outcome": result.outcome, "turns": result.case.turns, "expect": result.case.expect,
            "kind": reply.get("kind"), "text": str(reply.get("text", ""))[:limit],
            "error": result.error}


def _eval_json(report, args) -> dict:
    """The whole evaluation as one JSON object; `counts` add up to `total`."""
    from chatbot.evaluation import OUTCOMES
    return {
        "cases_file": args.cases, "total": report.total, "passed": report.passed,
        "failed": report.total - report.passed, "score": round(report.score, 4),
        "counts": report.counts(),
        "labels": {key: label for key, (label, _) in OUTCOMES.items()},
        "passing_outcomes": [key for key, (_, ok) in OUTCOMES.items() if ok],
        "by_category": report.by_category(),
        "results": [{"id": r.case.id, "cat": r.case.cat, "outcome": r.outcome,
                     "passed": r.passed, "kind": r.reply.get("kind"), "error": r.error}
                    for r in report.results],
        "failures": [_failure_detail(r, JSON_TEXT)
                     for r in report.failures()[:args.show_failures]],
    }


def _eval_text(report, args) -> str:
    """The evaluation as a table a person reads: failures asked for first (as chat_eval.py
    prints them), then the counts grouped into right and wrong, then the score last, where
    the eye lands."""
    from chatbot.evaluation import OUTCOMES, expected_text, shorten
    out = []
    failures = report.failures()
    for r in failures[:args.show_failures]:
        reply = r.reply
        got = f"{reply.get('kind')}: " + json.dumps(shorten(reply.get("text", ""), FAILURE_TEXT),
                                                    ensure_ascii=False) if reply else "no reply"
        asked = " | ".join(json.dumps(t, ensure_ascii=False) for t in r.case.turns)
        out += [f"FAIL {r.case.id} (line {r.case.line}, {r.case.cat}): {OUTCOMES[r.outcome][0]}",
                f"  asked:    {shorten(asked, FAILURE_TEXT)}",
                f"  expected: {shorten(expected_text(r.case.expect), FAILURE_TEXT)}",
                f"  got:      {got}",
                f"  why:      {r.error}", ""]
    counts = report.counts()
    width = max(len(label) for label, _ in OUTCOMES.values()) + 2
    out.append(f"{report.total} cases from {args.cases}")
    for title, ok in (("right", True), ("wrong", False)):
        rows = [(label, counts[key]) for key, (label, passing) in OUTCOMES.items() if passing is ok]
        out.append(f"{title:<{width + 2}}{sum(n for _, n in rows):>6}")
        out += [f"  {label:<{width}}{n:>6}" for label, n in rows]
    out.append("by category: " + ", ".join(f"{cat} {row['passed']}/{row['total']}"
                                         for cat, row in report.by_category().items()))
    shown = min(len(failures), args.show_failures)
    if len(failures) > shown:
        out.append(f"{len(failures) - shown} failing case(s) not listed; "
                   "--show-failures N lists them")
    out.append(f"score {report.passed}/{report.total} ({100 * report.score:.1f}%)")
    return "\n".join(out)


def _run(entry) -> None:
    sys.exit(entry())


if __name__ == "__main__":
    _run(main)
