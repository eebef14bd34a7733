"""Follow-ups that point back by place: "is the first one ok for the baby" after "my derm
mentioned methotrexate or rinvoq" asks about methotrexate, "the second one you said" about
the second medicine of the last answer, "and the other one?" about the medicine named
earlier that is not the one discussed last.

The words are English grammar, kept as data in corpus/conversation.toml ([places]); the
medicines are the conversation's (State.named) or the last answer's, in the order they were
named, so the pointer is read from the conversation itself, never from a phrasing learned
for one question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from chatbot.core.corpus import CorpusError
from chatbot.core.safety import compile_patterns

OTHER = 0  # the place of "the other one": not a position in the list


@dataclass(frozen=True)
class Places:
    """The pointer pattern (its place word in the group `place` or `alone`), the pattern
    that says the bot named the list ("you said"), and each place word's position: 1 the
    first, 2 the second, -1 the last, OTHER the one not discussed last."""
    pointer: re.Pattern
    by_bot: re.Pattern
    positions: dict[str, int]

    @classmethod
    def load(cls, path: Path, table: dict) -> "Places":
        """[places] of conversation.toml; a missing or malformed entry is a CorpusError."""
        try:
            pointer = compile_patterns(path, "places.pointer", [table["pointer"]])[0]
            by_bot = compile_patterns(path, "places.by_bot", [table["by_bot"]])[0]
            positions = table["positions"]
        except KeyError as exc:
            raise CorpusError(path, 0, f"[places] lacks {exc.args[0]!r}") from None
        if not {"place", "alone"} <= set(pointer.groupindex):
            raise CorpusError(path, 0, "places.pointer needs the groups (?P<place>...) "
                                       "and (?P<alone>...)")
        if not isinstance(positions, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in positions.values()):
            raise CorpusError(path, 0, "places.positions maps each place word to a whole "
                                       "number (1 first, 2 second, -1 last, 0 the other one)")
        return cls(pointer, by_bot, dict(positions))

    def find(self, folded: str) -> tuple[re.Match, int] | None:
        """The pointer in a folded message and its position, if it has one."""
        m = self.pointer.search(folded)
        if m is None:
            return None
        position = self.positions.get(m.group("place") or m.group("alone"))
        return None if position is None else (m, position)

    def choose(self, position: int, listed: tuple[str, ...], current: str | None) -> str | None:
        """The medicine at `position` in `listed` (OTHER: the last one named that is not
        `current`); None where the list is too short to point into (one medicine has no
        "second" or "other")."""
        if len(listed) < 2:
            return None
        if position == OTHER:
            others = [m for m in listed if m != current]
            return others[-1] if others and len(others) < len(listed) else None
        index = position - 1 if position > 0 else position
        return listed[index] if -len(listed) <= index < len(listed) else None


def replaced(text: str, pointer: str, name: str) -> str:
    """`text` with the words of `pointer` (as found in its folded form) replaced by `name`:
    the message keeps its own punctuation and case around them."""
    found = re.compile(r"\b" + r"\W+".join(map(re.escape, pointer.split())) + r"\b",
                       re.IGNORECASE).search(text)
    return text[:found.start()] + name + text[found.end():] if found else text
