"""Training time: `chatbot train` from the command line, as a clinic runs it after editing the
examples (target: at most 10 s on 2 cores).

It trains a copy of corpus/ (CORPUS_DIR pointing at a temporary folder), so the repository's
saved models are never touched, and adds a labelled message to the copy before each run, as a
clinic does, so the saved models are stale as they are when it matters. The wall time
includes starting Python and importing scikit-learn. Each model's own fit time is what
`chatbot train` prints. Median of 3 runs.

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


def main(argv: list[str] | None = None) -> dict:
    runs = run_count(argv, __doc__, default=3, quick=1)
    chatbot = str(Path(sys.executable).parent / "chatbot")
    wall, fits = [], {"risk": [], "answer": []}
    examples = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        env = dict(os.environ, CORPUS_DIR=str(corpus))
        for n in range(runs):
            with open(corpus / "examples" / "safety.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"id": f"bench-{n}", "author": "bench", "kind": "none",
                                    "text": f"is parking free on day {n}"}) + "\n")
            t0 = time.perf_counter()
            done = subprocess.run([chatbot, "train"], cwd=ROOT, env=env, capture_output=True,
                                  text=True)
            wall.append(time.perf_counter() - t0)
            if done.returncode != 0:
                raise RuntimeError(f"chatbot train exited {done.returncode}: {done.stderr[-500:]}")
            for kind, n, seconds in FIT.findall(done.stdout):
                fits[kind].append(float(seconds))
                examples[kind] = int(n.replace(",", ""))
    data = {"runs": runs, "wall_median_s": round(median(wall), 2),
            "wall_runs_s": [round(x, 2) for x in wall],
            "risk_fit_median_s": round(median(fits["risk"]), 2),
            "answer_fit_median_s": round(median(fits["answer"]), 2),
            "risk_examples": examples.get("risk"), "answer_examples": examples.get("answer"),
            "target_s": 10.0}
    Result("training_time", "python bench/training_time.py", data).save()
    print(f"chatbot train: median {data['wall_median_s']} s (target <= 10 s); fits: risk "
          f"{data['risk_fit_median_s']} s, answers with ranker {data['answer_fit_median_s']} s")
    return data


if __name__ == "__main__":
    main()
