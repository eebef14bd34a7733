"""The `ask` and `chatbot` commands, run as real subprocesses the way a person runs them."""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run(*args, env=None, stdin=None, timeout=60):
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True,
                          input=stdin, timeout=timeout, env={**os.environ, **(env or {})})


def test_quickstart_question_prints_passage_source_and_disclaimer():
    out = run("ask", "can I take methotrexate pregnant")
    assert out.returncode == 0 and out.stderr == ""
    assert "pregnancy category X" in out.stdout
    assert "Who should not take systemic immunomodulators?" in out.stdout
    assert "not medical advice" in out.stdout


def test_json_prints_the_reply_object():
    out = run("ask", "--json", "dupixant pink eye")
    reply = json.loads(out.stdout)
    assert out.returncode == 0
    assert reply["type"] == "reply" and reply["kind"] == "answer"
    assert "conjunctivitis" in reply["text"] and reply["source"]["passage_id"]


@pytest.mark.parametrize("question, kind", [("I can't breathe", "emergency"),
                                            ("who won the world cup", "no_answer"),
                                            ("thanks", "smalltalk")])
def test_every_reply_exits_zero(question, kind):
    out = run("ask", "--json", question)
    assert out.returncode == 0 and json.loads(out.stdout)["kind"] == kind


def test_unquoted_words_are_one_question():
    out = run("ask", "side", "effects", "of", "cyclosporine")
    assert "kidney damage" in out.stdout


def test_help_shows_examples():
    out = run("ask", "--help")
    assert out.returncode == 0 and "examples:" in out.stdout and "ask --json" in out.stdout


@pytest.mark.parametrize("args", [["--bogus"], [""], ["   "]])
def test_usage_error_exits_2_with_one_line(args):
    out = run("ask", *args)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_bad_setting_exits_2_with_one_line():
    out = run("ask", "hi", env={"MIN_CONFIDENCE": "lots"})
    assert out.returncode == 2 and out.stderr.strip() == "ask: MIN_CONFIDENCE must be a number, got 'lots'"


def test_broken_corpus_says_which_file_without_traceback(tmp_path):
    (tmp_path / "bad.md").write_text("no front matter\n")
    out = run("ask", "hi", env={"CORPUS_DIR": str(tmp_path)})
    assert out.returncode == 1 and "bad.md:1" in out.stderr and "Traceback" not in out.stderr


def test_question_from_a_pipe():
    out = run("ask", stdin="what are biologics\n")
    assert out.returncode == 0 and "target specific parts of the immune system" in out.stdout


def test_empty_pipe_is_a_usage_error():
    out = run("ask", stdin="")
    assert out.returncode == 2 and "no question" in out.stderr


def read_until(fd, marker: bytes, timeout: float = 30) -> bytes:
    buf, deadline = b"", time.monotonic() + timeout
    while marker not in buf:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {marker!r} in {buf[-500:]!r}")
        if select.select([fd], [], [], 0.5)[0]:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return buf


def test_interactive_chat_on_a_terminal_keeps_context():
    pid, fd = pty.fork()
    if pid == 0:  # the child: `ask` with a terminal and no question
        os.execv(str(BIN / "ask"), [str(BIN / "ask")])
    try:
        read_until(fd, b"you> ")
        os.write(fd, b"what is dupilumab\n")
        read_until(fd, b"you> ")
        os.write(fd, b"what are the side effects?\n")
        assert b"conjunctivitis" in read_until(fd, b"you> ")
        os.write(fd, b"quit\n")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)


def test_cli_does_not_import_flask():
    code = "import sys; from chatbot.cli import ask_main; ask_main(['--json', 'hi']); " \
           "print('flask' in sys.modules, file=sys.stderr)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr.strip() == "False"


def test_chatbot_without_command_is_a_usage_error():
    out = run("chatbot")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_stem_cache_holds_article_words_never_question_words(tmp_path):
    out = run("ask", "zebrafishology and methotrexate", env={"CACHE_DIR": str(tmp_path)})
    assert out.returncode == 0
    [cache] = list(tmp_path.glob("stems-*.json"))
    stems = json.loads(cache.read_text())
    assert "methotrexate" in stems and "zebrafishology" not in stems
    again = run("ask", "--json", "what are biologics", env={"CACHE_DIR": str(tmp_path)})
    assert json.loads(again.stdout)["kind"] == "answer"


def test_unwritable_cache_dir_is_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = run("ask", "--json", "what are biologics", env={"CACHE_DIR": str(blocker / "sub")})
    assert out.returncode == 0 and json.loads(out.stdout)["kind"] == "answer"
