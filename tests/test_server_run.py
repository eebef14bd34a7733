"""`chatbot serve` (chatbot/server/run.py): the Procfile's setup, started from the CLI."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gunicorn.config import Config

from chatbot.server.run import GUNICORN_OPTIONS
from live import ROOT, free_port, launch, procfile_command


def test_serve_uses_the_same_gunicorn_options_as_the_procfile():
    """Read by gunicorn's own parser, so flags like --no-control-socket map to their settings."""
    cmd = procfile_command(8000, env={"WEB_CONCURRENCY": ""})  # unset: the Procfile's default
    assert cmd[0] == "gunicorn"
    procfile = vars(Config().parser().parse_args(cmd[1:]))
    assert procfile["args"] == ["chatbot.server:create_app()"]
    assert {key: procfile[key] for key in GUNICORN_OPTIONS} == GUNICORN_OPTIONS


def test_chatbot_serve_prints_the_url_and_serves_the_chat(tmp_path):
    port = free_port()
    chatbot = Path(sys.executable).parent / "chatbot"
    live = launch([str(chatbot), "serve", "--port", str(port)], tmp_path, port)  # waits for 200
    try:
        first_line = live.log().splitlines()[0]
        assert f"http://127.0.0.1:{port}/" in first_line
    finally:
        live.stop(graceful=True)  # SIGTERM, as a platform stops a dyno
    assert live.proc.returncode == 0  # a clean shutdown on SIGTERM


def test_servers_do_not_share_a_control_socket(server_factory, tmp_path):
    """gunicorn's default control socket is one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl):
    two servers on one machine would take it over from each other. The Procfile turns it off."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    server_factory.many([{"XDG_RUNTIME_DIR": str(runtime)}] * 2)  # both up at the same time
    assert list(runtime.iterdir()) == []


# ---- a start that cannot work: one line for the operator, and a quick exit ------------------

BROKEN_ARTICLE = "---\ntitle: A broken article\nauthor: Dr. Nobody\n## A heading too early\n"


def broken_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "broken.md").write_text(BROKEN_ARTICLE)
    return corpus


def run_procfile(tmp_path: Path, env: dict) -> tuple[subprocess.CompletedProcess, float]:
    """The Procfile's command as a platform runs it, to its end (or a 60 s limit)."""
    full_env = {**os.environ, "PORT": str(free_port()), **env}
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env['PATH']}"
    started = time.monotonic()
    result = subprocess.run(procfile_command(int(full_env["PORT"])), cwd=ROOT, env=full_env,
                            capture_output=True, text=True, timeout=60)
    return result, time.monotonic() - started


@pytest.mark.parametrize("case", ["broken-corpus", "bad-setting"])
def test_a_start_that_cannot_work_prints_one_line_and_exits_quickly(tmp_path, case):
    if case == "broken-corpus":
        corpus = broken_corpus(tmp_path)
        env = {"CORPUS_DIR": str(corpus)}
        expected = f"chatbot: {corpus / 'broken.md'}:4: front matter is not closed"
    else:
        env = {"MIN_CONFIDENCE": "abc"}
        expected = "chatbot: MIN_CONFIDENCE must be a number, got 'abc'"
    result, seconds = run_procfile(tmp_path, env)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output  # gunicorn's "worker failed to boot": no retrying
    assert seconds < 30, f"took {seconds:.1f} s"  # the engine's imports take most of it
    ours = [line for line in result.stderr.splitlines() if line.startswith("chatbot:")]
    assert len(ours) == 1 and ours[0].startswith(expected), output
    assert "Traceback" not in output and "Exception in worker" not in output
    assert "Chat running" not in output


def test_chatbot_serve_reports_a_broken_corpus_before_starting(tmp_path):
    corpus = broken_corpus(tmp_path)
    chatbot = Path(sys.executable).parent / "chatbot"
    result = subprocess.run([str(chatbot), "serve", "--port", str(free_port())], cwd=ROOT,
                            env={**os.environ, "CORPUS_DIR": str(corpus)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        f"chatbot: {corpus / 'broken.md'}:4: front matter is not closed: add a '---' line "
        "before the first heading"]
    assert "Chat running" not in result.stdout


def test_the_start_logs_the_allowed_origins_as_one_json_line(server):
    from test_server import wait_for_event
    wait_for_event(server, lambda e: e["event"] == "start", timeout=30)  # the oldest worker's
    starts = [json.loads(line) for line in server.log().splitlines()
              if line.startswith("{") and '"event": "start"' in line]
    assert len(starts) == 1
    assert starts[0]["allowed_origins"] == [] and starts[0]["passages"] > 0
