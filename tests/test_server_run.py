"""`chatbot serve` (chatbot/server/run.py): the Procfile's setup, started from the CLI."""
import sys
from pathlib import Path

from gunicorn.config import Config

from chatbot.server.run import GUNICORN_OPTIONS
from live import free_port, launch, procfile_command


def test_serve_uses_the_same_gunicorn_options_as_the_procfile():
    """Read by gunicorn's own parser, so flags like --no-control-socket map to their settings."""
    cmd = procfile_command(8000)
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
        live.stop()  # SIGTERM
    assert live.proc.returncode == 0  # a clean shutdown on SIGTERM


def test_servers_do_not_share_a_control_socket(server_factory, tmp_path):
    """gunicorn's default control socket is one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl):
    two servers on one machine would take it over from each other. The Procfile turns it off."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for _ in range(2):
        server_factory(env={"XDG_RUNTIME_DIR": str(runtime)})
    assert list(runtime.iterdir()) == []
