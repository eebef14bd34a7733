"""Generated articles in the corpus format, to see how the engine scales with more text.

Text is drawn from a Zipf distribution over the article's own vocabulary plus made-up words,
so term frequencies and posting-list lengths look like a real medical Q&A collection rather
than uniform noise. Seeded: the same sizes always give the same corpus.

usage: python bench/gen_corpus.py OUT_DIR PASSAGES   (writes OUT_DIR/*.md beside the article)
"""
from __future__ import annotations

import argparse
import random
import re
import shutil
from itertools import accumulate
from pathlib import Path

from common import ROOT

ARTICLE_DIR = ROOT / "corpus"
SECTIONS_PER_ARTICLE = 25
PARAGRAPHS_PER_SECTION = 4


def vocabulary(rng: random.Random, invented: int = 20_000) -> list[str]:
    """The article's words by frequency, then invented words for a long tail."""
    counts: dict[str, int] = {}
    for md in sorted(ARTICLE_DIR.glob("*.md")):
        for w in re.findall(r"[a-z]+", md.read_text().lower()):
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: -counts[w])
    syll = ["ta", "ri", "mo", "lu", "zen", "ca", "dro", "vi", "nex", "pa", "sto", "mab", "tin"]
    seen = set(words)
    while len(words) < len(counts) + invented:
        w = "".join(rng.choice(syll) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


class Writer:
    """Draws Zipf-distributed words and writes articles of Q&A sections."""

    def __init__(self, seed: int = 42):
        self.rng = random.Random(seed)
        self.words = vocabulary(self.rng)
        self.cum = list(accumulate(1 / (i + 1) ** 1.05 for i in range(len(self.words))))

    def sentence(self, lo: int, hi: int) -> str:
        n = self.rng.randint(lo, hi)
        ws = self.rng.choices(self.words, cum_weights=self.cum, k=n)
        return ws[0].capitalize() + " " + " ".join(ws[1:]) + "."

    def paragraph(self) -> str:
        return " ".join(self.sentence(6, 18) for _ in range(self.rng.randint(3, 6)))

    def article(self, number: int, passages: int) -> str:
        out = ["---", f"title: Generated article {number}", "author: Dr. Bench Mark",
               "credentials: generated text", f"source: bench/gen_corpus.py seed {number}",
               "summary: Generated text for the retrieval-scale benchmark.", "---", ""]
        written = 0
        while written < passages:
            out += ["## " + self.sentence(4, 9)[:-1] + "?", ""]
            for _ in range(min(PARAGRAPHS_PER_SECTION, passages - written)):
                out += [self.paragraph(), ""]
                written += 1
        return "\n".join(out)


def write_corpus(out_dir: Path, passages: int, seed: int = 42) -> Path:
    """The shipped corpus folder (article, lexicon, safety phrases...) plus generated
    articles holding `passages` paragraphs in all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in ARTICLE_DIR.iterdir():
        if path.is_file():
            shutil.copy(path, out_dir / path.name)
    writer = Writer(seed)
    per_article = SECTIONS_PER_ARTICLE * PARAGRAPHS_PER_SECTION
    number = 0
    while passages > 0:
        n = min(per_article, passages)
        (out_dir / f"generated-{number:05d}.md").write_text(writer.article(number, n))
        passages -= n
        number += 1
    return out_dir


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("passages", type=int)
    args = ap.parse_args()
    print(write_corpus(args.out_dir, args.passages))
