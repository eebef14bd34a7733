"""Retrieval's view of each labelled question, kept between trainings.

The ranker learns from what retrieval makes of every labelled question (a
dialogue.QuestionView), and a follow-up's view replays the conversation before it:
working those out is most of what `chatbot train` does. A view depends on the question
and on nothing a clinic edits in its examples: the engine's code, the corpus files other
than the examples and models (articles, lexicon, conversation, safety rules, stop words)
and the answer bar (MIN_CONFIDENCE). So the views are kept in the cache folder under a key
of all of those: after an edit to the examples only the new questions are read, and an
edit to anything else reads them all again. The questions are the clinic's own examples,
never a patient's messages.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import chatbot.core
from chatbot.core.classifier import data_key
from chatbot.core.dialogue import QuestionView
from chatbot.core.files import write_whole
from chatbot.core.ranker import Found

VIEWS_FILE = "views-{key}.json"
View = Callable[..., QuestionView]


def engine_files(corpus_dir: Path) -> list[Path]:
    """The files a view depends on: the engine's code and the corpus but for its examples
    and models."""
    corpus = [p for p in corpus_dir.rglob("*")
              if p.is_file() and p.relative_to(corpus_dir).parts[0] not in ("examples", "models")]
    return sorted(Path(chatbot.core.__file__).parent.glob("*.py")) + sorted(corpus)


def views_key(corpus_dir: Path, min_confidence: float, cache_dir: Path | None = None) -> str:
    """The key the views are kept under (engine_files, and the answer bar)."""
    files = data_key(engine_files(corpus_dir), cache_dir)
    return hashlib.sha256(f"{files} {min_confidence!r}".encode()).hexdigest()[:16]


class SavedViews:
    """`view` (Bot.question_view), answered from the views kept in `cache_dir` under `key`
    where it can be; `save` keeps the ones asked for this time (and only those) for next
    time. Without a cache folder it is `view` itself."""

    def __init__(self, view: View, cache_dir: Path | None, key: str):
        self.view = view
        self.path = cache_dir / VIEWS_FILE.format(key=key) if cache_dir else None
        self.kept = self._load()
        self.used: dict[str, QuestionView] = {}
        self.read = 0  # how many views were worked out rather than found

    def __call__(self, text: str, before: tuple[str, ...] = ()) -> QuestionView:
        name = json.dumps([text, list(before)], ensure_ascii=False)
        found = self.used.get(name) or self.kept.get(name)
        if found is None:
            found = self.view(text, before)
            self.read += 1
        self.used[name] = found
        return found

    def _load(self) -> dict[str, QuestionView]:
        """The views kept under this key (none when the file is missing or unreadable)."""
        if self.path is None:
            return {}
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return {name: _view_of(row) for name, row in rows.items()}
        except (OSError, ValueError, TypeError, KeyError):
            return {}

    def save(self) -> None:
        """Keeps the views asked for this time in place of any kept under another key (a
        read-only or missing cache folder keeps nothing)."""
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for old in self.path.parent.glob(VIEWS_FILE.format(key="*")):
                if old != self.path:
                    old.unlink()
            text = json.dumps({n: _row_of(v) for n, v in self.used.items()}, ensure_ascii=False)
            write_whole(self.path, lambda f: f.write(text.encode("utf-8")))
        except OSError:
            pass


def _row_of(view: QuestionView) -> list:
    """A view as JSON values (floats written as Python reads them back: exactly)."""
    found = {s: [f.rank, f.coverage, f.score, f.on_topic, f.complete]
             for s, f in view.found.items()}
    return [found, view.bar, view.words, view.previous,
            list(view.cues) if view.cues is not None else None, view.read]


def _view_of(row: list) -> QuestionView:
    found, bar, words, previous, cues, read = row
    return QuestionView({s: Found(int(r), float(c), float(sc), bool(on), bool(whole))
                         for s, (r, c, sc, on, whole) in found.items()}, float(bar), int(words),
                        previous,
                        tuple(cues) if cues is not None else None, read)
