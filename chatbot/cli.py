"""The terminal front end: `ask "question"` and `chatbot serve`.

Both are thin layers over `Bot.reply`. Flask is imported only by `serve`, so
`ask` starts about as fast as importing nltk and rank_bm25 themselves.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import textwrap

from chatbot.config import ConfigError, Settings

ASK_EXAMPLES = """\
examples:
  ask "can I take methotrexate if I'm pregnant"
  ask "dupixent pink eye"
  ask --json "side effects of cyclosporine"
  ask                      (no question: an interactive chat that keeps context)
"""


class UsageError(Exception):
    """A mistake in how the command was called; exits 2 with one line on stderr."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message: str):
        raise UsageError(message)


def _ask_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ask", description="Ask the eczema-medicines article a question.",
                epilog=ASK_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", nargs="*", help="your question (quote it or not)")
    p.add_argument("--json", action="store_true", help="print the reply object as JSON")
    return p


def format_reply(reply: dict, width: int = 78) -> str:
    """A reply as a person reads it in a terminal: text, source, suggestions, disclaimer."""
    wrap = lambda s, indent="": textwrap.fill(s, width, initial_indent=indent,  # noqa: E731
                                              subsequent_indent=indent)
    out = [wrap(para) if not para.lstrip().startswith("•") else para
           for para in reply["text"].split("\n")]
    src = reply.get("source")
    if src:
        out += ["", wrap(f"— from “{src['section']}”, {src['title']} ({src['author']})")]
    if reply.get("suggestions"):
        out += ["", "You could also ask:"] + [f"  • {s}" for s in reply["suggestions"]]
    if reply.get("disclaimer"):
        out += ["", wrap(reply["disclaimer"])]
    return "\n".join(out)


def _interactive(bot) -> int:
    """A chat in the terminal that keeps context between questions until EOF or 'quit'."""
    gc.enable()  # a long session: collect cycles again (see ask_main)
    welcome = bot.welcome()
    print(welcome["text"])
    print("(type 'quit' or press Ctrl-D to leave)\n")
    state: dict = {}
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line.lower() in {"quit", "exit", "bye"} and line:
            return 0
        if not line:
            continue
        reply, state = bot.reply(line, state)
        print(format_reply(reply) + "\n")


def ask_main(argv: list[str] | None = None) -> int:
    """Entry point of `ask`."""
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
        if not sys.stdin.isatty():
            question = sys.stdin.read().strip()
            if not question:
                print("ask: no question given (see ask --help)", file=sys.stderr)
                return 2
        else:
            return _interactive(bot)
    reply, _ = bot.reply(question, {})
    print(json.dumps(reply, indent=2, ensure_ascii=False) if args.json else format_reply(reply))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `chatbot`: `chatbot serve [--host] [--port]`."""
    p = _Parser(prog="chatbot", description="The eczema-medicines chatbot.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="start the chat server (websocket, REST, widget)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    try:
        args = p.parse_args(argv)
        if args.command is None:
            raise UsageError("missing command; try: chatbot serve")
        if not 0 < args.port < 65536:
            raise UsageError(f"--port must be 1-65535, got {args.port}")
        settings = Settings.from_env()
    except (UsageError, ConfigError) as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return 2
    from chatbot.server import serve as run_server
    return run_server(settings, host=args.host, port=args.port) or 0


def _run(entry) -> None:
    sys.exit(entry())


if __name__ == "__main__":
    _run(main)
