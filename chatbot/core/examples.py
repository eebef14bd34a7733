"""Labelled example messages: the data the learned models are trained and judged on.

They live in corpus/examples/*.jsonl, one JSON object a line, so a clinic can read, review
and extend them like the article:
- safety.jsonl: {"id", "author", "kind": "crisis" | "emergency" | "none", "text"};
- *_questions.jsonl: conversations {"id", "author", "turns", "expect": {"kind", ...}} and, for a
  question the article answers, "section": the id of the passage that answers it (see
  chatbot.core.answers); every turn is an example message, "none", but in a conversation whose
  expected reply is a crisis or an emergency, where the last turn alone is that and the
  earlier ones, unlabelled, are left out. Such a last turn that another example labels
  otherwise ("gn" after a goodbye, and as small talk) is risky only by what came before it:
  it is left out too (the carried concern, chatbot.core.state.State.concern, answers it).
Every example names its author, so a score can always be measured on authors the model did
not learn from.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chatbot.core.corpus import CorpusError

EXAMPLES_DIR = "examples"
KINDS = ("none", "crisis", "emergency")


@dataclass(frozen=True)
class Example:
    text: str
    kind: str  # one of KINDS
    author: str
    where: str  # file:line, for messages a clinic can act on
    before: tuple[str, ...] = ()  # a follow-up's earlier turns, in order (answer examples)
    passages: tuple[str, ...] = ()  # the passages of its section that answer it (answer examples)
    in_context: bool = False  # labelled by its conversation: a risky conversation's last turn


def example_files(corpus_dir: Path) -> list[Path]:
    """The files a model trained for this corpus depends on."""
    folder = corpus_dir / EXAMPLES_DIR
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def read_jsonl(path: Path):
    """(line number, object) for each non-blank line; a line that is not a JSON object is
    named with file:line."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise CorpusError(path, n, f"not valid JSON: {exc}") from None
        if not isinstance(row, dict):
            raise CorpusError(path, n, "each line must be a JSON object")
        yield n, row


def load_examples(corpus_dir: Path) -> list[Example]:
    """Every labelled message of the corpus; a malformed line is named with file:line."""
    out: list[Example] = []
    for path in example_files(corpus_dir):
        for n, row in read_jsonl(path):
            if not isinstance(row.get("author"), str):
                raise CorpusError(path, n, 'each line needs an "author"')
            out += _examples_of(row, path, n)
    return _alone(out)


def _alone(examples: list[Example]) -> list[Example]:
    """The examples without a risky conversation's last turn that another example labels
    otherwise: its risk lies in the earlier turns, and taught alone it would teach a false
    alarm (the one message labelled two ways)."""
    kinds: dict[str, set[str]] = {}
    for e in examples:
        if not e.in_context:
            kinds.setdefault(message_key(e.text), set()).add(e.kind)
    return [e for e in examples
            if not (e.in_context and kinds.get(message_key(e.text), {e.kind}) - {e.kind})]


def message_key(text: str) -> str:
    """A message as `chatbot check` compares two examples: lower case, spaces folded."""
    return " ".join(text.lower().split())


def _examples_of(row: dict, path: Path, n: int) -> list[Example]:
    where = f"{path.name}:{n}"
    if "turns" in row:  # a conversation
        turns, kind = row.get("turns"), (row.get("expect") or {}).get("kind")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise CorpusError(path, n, '"turns" must be a list of messages')
        if kind in ("crisis", "emergency"):  # only the last turn is labelled: an earlier
            # one may be the risk itself ("i have a plan if this fails too"), so it is left out
            return [Example(turns[-1], kind, row["author"], where, in_context=len(turns) > 1)]
        return [Example(t, "none", row["author"], where) for t in turns]
    text, kind = row.get("text"), row.get("kind")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(path, n, '"text" must be a non-empty message')
    if kind not in KINDS:
        raise CorpusError(path, n, f'"kind" must be one of {", ".join(KINDS)}, got {kind!r}')
    return [Example(text, kind, row["author"], where)]


def author_folds(authors, folds: int | None) -> dict[str, int]:
    """Each author's fold (0 .. folds-1), the authors sorted and dealt in turn; with `folds`
    None, every author a fold of their own (leave one author out). The one assignment every
    cross-validation shares, so their folds hold the same people."""
    return {a: (i % folds if folds else i) for i, a in enumerate(sorted(set(authors)))}
