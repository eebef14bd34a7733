"""Safety routing: recognise a crisis or an emergency before anything else.

The patterns live in corpus/safety.toml so a clinic's clinicians can review
and extend them. A person *describing* warning signs gets the emergency reply;
a general question *about* warning signs ("what are the signs of an allergic
reaction?") goes on to be answered from the article.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from chatbot.core.corpus import CorpusError


def compile_patterns(path: Path, name: str, patterns: list[str]) -> list[re.Pattern]:
    """Compiles a list of regexes from a data file, naming the file and list on a bad one."""
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise CorpusError(path, 0, f"'{name}' must be a list of pattern strings")
    compiled = []
    for p in patterns:
        try:
            compiled.append(re.compile(p))
        except re.error as exc:
            raise CorpusError(path, 0, f"bad pattern in '{name}': {p!r}: {exc}") from None
    return compiled


def load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise CorpusError(path, 0, "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(path, getattr(exc, "lineno", 0) or 0, f"not valid TOML: {exc}") from None


class AnyOf:
    """Patterns tried one after another: the first that matches is the match.

    Joined into one alternation, a hundred patterns searched three times slower: the
    engine then tries every alternative at every position of the message, where each
    pattern alone skips straight to the places it could start.
    """

    def __init__(self, patterns: list[re.Pattern]):
        self.patterns = tuple(patterns)

    def search(self, text: str) -> re.Match | None:
        for pattern in self.patterns:
            found = pattern.search(text)
            if found:
                return found
        return None


def compile_any(path: Path, name: str, patterns: list[str]) -> AnyOf:
    """Matches where any of `patterns` does; a bad one is named with its file and list."""
    return AnyOf(compile_patterns(path, name, patterns))


@dataclass
class Safety:
    crisis: AnyOf
    emergency: AnyOf
    asking: AnyOf
    describing: AnyOf
    past: AnyOf
    now: AnyOf
    replies: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> "Safety":
        data = load_toml(path)
        try:
            return cls(
                crisis=compile_any(path, "crisis.patterns", data["crisis"]["patterns"]),
                emergency=compile_any(path, "emergency.patterns", data["emergency"]["patterns"]),
                asking=compile_any(path, "emergency.asking", data["emergency"]["asking"]),
                describing=compile_any(path, "emergency.describing", data["emergency"]["describing"]),
                past=compile_any(path, "emergency.past", data["emergency"]["past"]),
                now=compile_any(path, "emergency.now", data["emergency"]["now"]),
                replies={"crisis": data["crisis"]["reply"], "emergency": data["emergency"]["reply"]},
            )
        except KeyError as exc:
            raise CorpusError(path, 0, f"missing {exc.args[0]!r}") from None

    def check(self, folded: str) -> str | None:
        """'crisis', 'emergency' or None for a message already folded to lower-case words."""
        if self.crisis.search(folded):
            return "crisis"
        if self.emergency.search(folded):
            if self.past.search(folded) and not self.now.search(folded):
                return None  # it happened once, long ago: a question for the article
            if not self.asking.search(folded) or self.describing.search(folded):
                return "emergency"
        return None
