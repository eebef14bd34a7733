"""Cold start: `ask "..."` beside `python -c "import nltk, rank_bm25"`, and server start-up.

The CLI target is at most 1.3x the bare import of its two dependencies (median of 5 runs each,
interleaved so both see the same machine state). With scikit-learn and SciPy installed (they
train the models), a plain `import nltk` loads both through nltk's optional wrappers and
takes seconds; `ask` hides them while nltk loads (chatbot/core/text.py). So the ratio is
taken against the import with them hidden too, which is what nltk and rank_bm25 cost on
their own; the plain import is shown beside it. The server figure is the time from starting
the Procfile command to the first 200 from /healthz, i.e. how long a restarted or newly added
instance leaves a load balancer without it.

usage: python bench/cold_start.py [--runs 5] [--quick]
"""
from __future__ import annotations

import compileall
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, Result, median, run_count, start_server

QUESTION = "can I take methotrexate pregnant"


def timed(argv: list[str]) -> float:
    """Wall time of one run of `argv`, which must succeed."""
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return took


def main(argv: list[str] | None = None) -> dict:
    runs = run_count(argv, __doc__, default=5, quick=3)
    bindir = Path(sys.executable).parent
    ask = [str(bindir / "ask"), QUESTION]
    imports = [sys.executable, "-c", "import sys; sys.modules['sklearn'] = sys.modules['scipy'] = None; "
                                     "import nltk, rank_bm25"]
    plain = [sys.executable, "-c", "import nltk, rank_bm25"]
    # Both sides from bytecode, as installed packages run: pip compiled nltk's at install,
    # and Python writes the chatbot's on first import (unless PYTHONDONTWRITEBYTECODE is set,
    # as on some CI machines, which would leave `ask` compiling its sources on every run).
    compileall.compile_dir(ROOT / "chatbot", quiet=1)
    timed(ask), timed(imports)  # warm the page cache (and any on-disk index cache) first
    ask_s, import_s, plain_s = [], [], []
    for _ in range(runs):
        ask_s.append(timed(ask))
        import_s.append(timed(imports))
        plain_s.append(timed(plain))
    server_s = []
    for _ in range(runs):
        with start_server() as srv:
            server_s.append(srv.ready_after)
    data = {
        "runs": runs,
        "ask_median_s": round(median(ask_s), 3),
        "import_median_s": round(median(import_s), 3),
        "ratio": round(median(ask_s) / median(import_s), 2),
        "ask_runs_s": [round(x, 3) for x in ask_s],
        "import_runs_s": [round(x, 3) for x in import_s],
        "plain_import_median_s": round(median(plain_s), 3),
        "server_ready_median_s": round(median(server_s), 3),
        "server_ready_runs_s": [round(x, 3) for x in server_s],
    }
    Result("cold_start", "python bench/cold_start.py", data).save()
    print(f"ask: median {data['ask_median_s']} s  vs  import nltk, rank_bm25: "
          f"{data['import_median_s']} s  -> ratio {data['ratio']}x (target <= 1.3x)")
    print(f"server start -> first /healthz 200: median {data['server_ready_median_s']} s")
    return data


if __name__ == "__main__":
    main()
