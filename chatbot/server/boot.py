"""Starting up under gunicorn: one line for the operator, whether the start worked or not.

gunicorn (the Procfile) builds the app in every worker process, so without care each worker
would log the start, and a bad setting or a broken corpus file would print a traceback per
worker. Here:

- a problem the operator can fix (ConfigError, CorpusError) prints one line on stderr,
  `chatbot: <what is wrong>`, and the worker exits with gunicorn's worker-boot-error code 3,
  on which the gunicorn master stops every worker and exits (3) itself instead of retrying;
- only the oldest worker of the master writes that line and the start line, so an operator
  sees each once, however many workers there are (see abort for the others).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

# gunicorn's Arbiter.WORKER_BOOT_ERROR: the master halts instead of starting a new worker.
WORKER_BOOT_ERROR = 3
# How long a worker that is not the oldest waits for the master to stop it (the oldest
# reports the same problem) before it reports the problem itself.
OTHERS_WAIT_SECONDS = 5.0


def _start_ticks(pid: int) -> int | None:
    """When a process started (clock ticks since boot, from /proc); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after the name


def is_first_worker() -> bool:
    """True in the oldest child of this process's parent (gunicorn's master), and wherever
    the siblings cannot be seen (no /proc): then each process speaks for itself."""
    me, parent = os.getpid(), os.getppid()
    mine = _start_ticks(me)
    if mine is None:
        return True
    try:
        entries = [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return True
    for pid in entries:
        if pid == me:
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) != parent:
            continue
        if (int(fields[19]), pid) < (mine, me):
            return False
    return True


def _gunicorn_worker():
    """The gunicorn worker building this app (found on the stack: gunicorn hands its workers
    no hook an app can use without a config file), or None outside gunicorn."""
    frame = sys._getframe(1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if type(candidate).__module__.startswith("gunicorn.workers."):
            return candidate
        frame = frame.f_back
    return None


def abort(problem: str) -> NoReturn:
    """Ends this worker after one line on stderr, so that the server stops.

    Only one worker exits with WORKER_BOOT_ERROR: the master halts on the first it sees and
    takes a second one, while it is stopping, for a crash of its own. So the oldest worker
    reports and exits with it; the others wait for the master's SIGTERM (and report
    themselves only if none comes, when the oldest did not fail), and one the master has
    already told to stop just ends.
    """
    worker = _gunicorn_worker()
    if worker is None:
        sys.stderr.write(f"chatbot: {problem}\n")
        sys.stderr.flush()
        raise SystemExit(WORKER_BOOT_ERROR)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # from here, the master's stop ends us
    if not getattr(worker, "alive", True):  # its SIGTERM came before: another worker reported
        os._exit(0)
    if not is_first_worker():
        time.sleep(OTHERS_WAIT_SECONDS)
    sys.stderr.write(f"chatbot: {problem}\n")
    sys.stderr.flush()
    # os._exit: SystemExit would run gunicorn's worker clean-up and log a line of its own
    os._exit(WORKER_BOOT_ERROR)
