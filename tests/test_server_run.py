"""`chatbot serve` (chatbot/server/run.py): the Procfile's setup, started from the CLI."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from chatbot.server.run import GUNICORN_OPTIONS
from conftest import ROOT, free_port, procfile_command


def test_serve_uses_the_same_gunicorn_options_as_the_procfile():
    cmd = procfile_command(8000)
    flags = {cmd[i]: cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i].startswith("--")}
    assert cmd[1] == "chatbot.server:create_app()"
    expected = {f"--{key.replace('_', '-')}": str(value) for key, value in GUNICORN_OPTIONS.items()}
    assert {k: flags.get(k) for k in expected} == expected


def test_chatbot_serve_prints_the_url_and_serves_the_chat(tmp_path):
    port = free_port()
    chatbot = Path(sys.executable).parent / "chatbot"
    out = open(tmp_path / "out.log", "w+")
    proc = subprocess.Popen([str(chatbot), "serve", "--port", str(port)], cwd=ROOT, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline and health is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    health = r.status
            except OSError:
                assert proc.poll() is None, (tmp_path / "out.log").read_text()
                time.sleep(0.2)
        assert health == 200
        first_line = (tmp_path / "out.log").read_text().splitlines()[0]
        assert f"http://127.0.0.1:{port}/" in first_line
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        out.close()
    assert proc.returncode == 0  # a clean shutdown on SIGTERM
