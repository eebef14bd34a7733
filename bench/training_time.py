"""Training time: `chatbot train` from the command line, as a clinic runs it after editing the
examples (target: at most 10 s on 2 cores).

It trains a copy of corpus/ (CORPUS_DIR pointing at a temporary folder), so the repository's
saved models are never touched, and adds a labelled question to the copy before each run, as
a clinic does: both models are then stale (the risk model reads every labelled message, the
answer model the questions). Two cases, run in turn:
- examples edited: the cache folder kept from the last training, as on the clinic's
  machine, so retrieval's reading of every question seen before is kept (chatbot.views) and
  only the new question is read;
- nothing kept: an empty cache folder, as after an edit to the article, the lexicon or the
  engine (or on a new machine): every labelled question is read afresh.
The wall time includes starting Python and importing scikit-learn. Each model's own fit time
is what `chatbot train` prints. Median of 3 runs of each.

usage: python bench/training_time.py [--runs 3] [--quick]
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, Result, median, run_count

FIT = re.compile(r"trained the (risk|answer) model on ([\d,]+) \w+ .* in ([\d.]+) s")
CASES = ("examples_edited", "nothing_kept")


def train(chatbot: str, env: dict) -> tuple[float, dict[str, float], dict[str, int]]:
    """One `chatbot train`: its wall time, each model's fit time and example count."""
    t0 = time.perf_counter()
    done = subprocess.run([chatbot, "train"], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"chatbot train exited {done.returncode}: {done.stderr[-500:]}")
    fits = {kind: float(s) for kind, _, s in FIT.findall(done.stdout)}
    counts = {kind: int(n.replace(",", "")) for kind, n, _ in FIT.findall(done.stdout)}
    return wall, fits, counts


def main(argv: list[str] | None = None) -> dict:
    runs = run_count(argv, __doc__, default=3, quick=1)
    chatbot = str(Path(sys.executable).parent / "chatbot")
    wall = {c: [] for c in CASES}
    fits = {c: {"risk": [], "answer": []} for c in CASES}
    examples = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        kept = Path(tmp) / "cache"
        env = dict(os.environ, CORPUS_DIR=str(corpus), CACHE_DIR=str(kept))
        train(chatbot, env)  # the clinic's machine has trained before
        for n in range(runs):
            for case in CASES:
                with open(corpus / "examples" / "helper_questions.jsonl", "a", encoding="utf-8") as f:
                    f.write(json.dumps({"id": f"bench-{case}-{n}", "author": "bench",
                                        "turns": [f"is mtx ok with a cold, asking for day {n}"],
                                        "expect": {"kind": "no_answer"}}) + "\n")
                cache = kept if case == "examples_edited" else Path(tmp) / f"empty-{n}"
                seconds, fit, counts = train(chatbot, dict(env, CACHE_DIR=str(cache)))
                wall[case].append(seconds)
                for kind, s in fit.items():
                    fits[case][kind].append(s)
                examples.update(counts)
    data = {"runs": runs, "target_s": 10.0,
            "risk_examples": examples.get("risk"), "answer_examples": examples.get("answer")}
    for case in CASES:
        data[case] = {"wall_median_s": round(median(wall[case]), 2),
                      "wall_runs_s": [round(x, 2) for x in wall[case]],
                      "risk_fit_median_s": round(median(fits[case]["risk"]), 2),
                      "answer_fit_median_s": round(median(fits[case]["answer"]), 2)}
    Result("training_time", "python bench/training_time.py", data).save()
    for case in CASES:
        d = data[case]
        print(f"chatbot train, {case.replace('_', ' ')}: median {d['wall_median_s']} s (target "
              f"<= 10 s); fits: risk {d['risk_fit_median_s']} s, answers with ranker "
              f"{d['answer_fit_median_s']} s")
    return data


if __name__ == "__main__":
    main()
