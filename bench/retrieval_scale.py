"""Retrieval scale: engine-only reply latency as the corpus grows past one article.

Builds a Bot (the real engine, through `load_bot` with CORPUS_DIR pointing at a generated
corpus) over the article alone, then with 1k, 10k and 100k generated passages added, and
times `bot.reply` on the shared dev questions. rank-bm25 scores every document for every
query term in a Python loop, so its share of the time is measured separately; beside it, an
inverted-index scorer computing the very same BM25 scores (checked equal) shows what replacing
that loop would buy.

usage: python bench/retrieval_scale.py [--sizes 1000,10000,100000] [--repeat 3] [--quick]
"""
from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np
import rank_bm25

from common import Result, median, percentile, questions, rss_mb
from gen_corpus import write_corpus


class ScoreTimer:
    """Wraps rank-bm25's get_scores to time it and keep the queries the engine asked."""

    def __init__(self):
        self.seconds = 0.0
        self.calls: list[tuple[object, list[str]]] = []
        self.originals = {}

    def install(self) -> None:
        for cls in (rank_bm25.BM25Okapi, rank_bm25.BM25L, rank_bm25.BM25Plus):
            original = cls.get_scores
            self.originals[cls] = original

            def timed(model, query, _original=original):
                t0 = time.perf_counter()
                try:
                    return _original(model, query)
                finally:
                    self.seconds += time.perf_counter() - t0
                    if len(self.calls) < 2000:
                        self.calls.append((model, list(query)))
            cls.get_scores = timed

    def reset(self) -> None:
        self.seconds = 0.0
        self.calls.clear()


class InvertedBM25:
    """BM25Okapi's scores from an inverted index: only documents holding a query term are
    touched, and each term's per-document weights are precomputed once at build time."""

    def __init__(self, model: rank_bm25.BM25Okapi):
        self.n = model.corpus_size
        postings: dict[str, tuple[list[int], list[float]]] = {}
        dl = np.asarray(model.doc_len, dtype=float)
        norm = model.k1 * (1 - model.b + model.b * dl / model.avgdl)
        for doc_id, freqs in enumerate(model.doc_freqs):
            for term, tf in freqs.items():
                ids, ws = postings.setdefault(term, ([], []))
                ids.append(doc_id)
                ws.append(tf * (model.k1 + 1) / (tf + norm[doc_id]))
        self.index = {t: (np.asarray(ids), model.idf.get(t, 0.0) * np.asarray(ws))
                      for t, (ids, ws) in postings.items()}

    def get_scores(self, query: list[str]) -> np.ndarray:
        scores = np.zeros(self.n)
        for term in query:
            hit = self.index.get(term)
            if hit is not None:
                scores[hit[0]] += hit[1]
        return scores


def measure(corpus_dir: Path | None, qs: list[str], repeat: int, timer: ScoreTimer) -> dict:
    """Builds a Bot over `corpus_dir` (None: the shipped corpus) and times its replies."""
    from chatbot.config import Settings
    from chatbot.core import load_bot

    gc.collect()
    rss0 = rss_mb([_self()])
    t0 = time.perf_counter()
    # No reply cache: the questions repeat, and every reply must be computed to be timed.
    # No stem cache on disk either: a generated corpus must not replace the article's.
    env = {"REPLY_CACHE_SIZE": "0", "CACHE_DIR": "off",
           **({"CORPUS_DIR": str(corpus_dir)} if corpus_dir else {})}
    bot = load_bot(Settings.from_env(env))
    build_s = time.perf_counter() - t0
    rss1 = rss_mb([_self()])
    for q in qs[:3]:
        bot.reply(q, {})  # warm caches once
    timer.reset()
    lat, from_article, answers = [], 0, 0
    for _ in range(repeat):
        for q in qs:
            t = time.perf_counter()
            reply, _ = bot.reply(q, {})
            lat.append(time.perf_counter() - t)
            if reply["kind"] == "answer":
                answers += 1
                src = reply.get("source") or {}
                from_article += not str(src.get("title", "")).startswith("Generated article")
    bm25_share = timer.seconds / sum(lat) if lat else 0.0
    alt = alternative(timer)
    passages = getattr(bot, "passage_count", None)
    del bot
    return {"passages": passages, "build_s": round(build_s, 2),
            "rss_growth_mb": round(rss1 - rss0, 1),
            "reply_p50_ms": round(median(lat) * 1000, 3),
            "reply_p99_ms": round(percentile(lat, 99) * 1000, 3),
            "replies": len(lat), "bm25_share": round(bm25_share, 3),
            "answers_from_article": f"{from_article}/{answers}", **alt}


def alternative(timer: ScoreTimer) -> dict:
    """Replays the engine's own BM25 queries on rank-bm25 and on the inverted index."""
    calls = [(m, q) for m, q in timer.calls if isinstance(m, rank_bm25.BM25Okapi)]
    if not calls:
        return {}  # the engine scores with its own postings lists, not rank-bm25's loop
    models = {id(m): m for m, _ in calls}
    t0 = time.perf_counter()
    inverted = {k: InvertedBM25(m) for k, m in models.items()}
    build = time.perf_counter() - t0
    orig = timer.originals[rank_bm25.BM25Okapi]
    rank_t, inv_t = [], []
    for m, q in calls:
        t = time.perf_counter()
        a = orig(m, q)
        rank_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = inverted[id(m)].get_scores(q)
        inv_t.append(time.perf_counter() - t)
        if not np.allclose(a, b):
            raise RuntimeError("inverted index disagrees with rank-bm25: the comparison is void")
    return {"get_scores_median_ms": round(median(rank_t) * 1000, 3),
            "inverted_median_ms": round(median(inv_t) * 1000, 3),
            "inverted_speedup": round(median(rank_t) / max(median(inv_t), 1e-9), 1),
            "inverted_build_s": round(build, 2)}


def _self() -> int:
    import os
    return os.getpid()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1k and 10k passages, 1 repeat")
    args = ap.parse_args(argv)
    sizes = [1000, 10000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeat = 1 if args.quick else args.repeat
    qs = questions()
    timer = ScoreTimer()
    timer.install()
    command = "python bench/retrieval_scale.py" + (" --quick" if args.quick else "")
    rows = [{"generated": 0, **measure(None, qs, repeat, timer)}]
    print(rows[-1], flush=True)
    data = {"rows": rows, "questions": len(qs), "skipped": []}
    for n in sizes:
        need = projected_mb(rows, n)
        if need > 0.6 * available_mb():  # never let the OOM killer pick a neighbour
            data["skipped"].append({"generated": n, "projected_rss_mb": round(need),
                                    "available_mb": round(available_mb())})
            print(f"skipping {n}: would need ~{need:.0f} MiB", flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix=f"bench-corpus-{n}-") as tmp:
            write_corpus(Path(tmp), n)
            rows.append({"generated": n, **measure(Path(tmp), qs, 1 if n >= 100_000 else repeat,
                                                   timer)})
        print(rows[-1], flush=True)
        Result("retrieval_scale", command, data).save()  # keep what was measured so far
    Result("retrieval_scale", command, data).save()
    return data


def projected_mb(rows: list[dict], n: int) -> float:
    """Memory the next size would take if it grows from the last one as the last two did
    (at least linearly): index structures that are dense per passage grow faster."""
    if len(rows) < 2 or rows[-1]["generated"] == 0:
        return rows[-1]["rss_growth_mb"] * max(1, n / 1000)
    (a, b) = rows[-2], rows[-1]
    scale = n / b["generated"]
    prev = max(a["rss_growth_mb"], 1.0)
    exponent = 1.0
    if a["generated"]:
        import math
        exponent = max(1.0, math.log(max(b["rss_growth_mb"], 1.0) / prev) /
                       math.log(b["generated"] / a["generated"]))
    return b["rss_growth_mb"] * scale ** exponent


def available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
