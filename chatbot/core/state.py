"""What a conversation remembers between messages: one typed value the engine owns.

`Bot.reply(text, state)` takes a State and returns the next one. A front end keeps it for
its connection (the websocket, `ask`'s chat) or hands its wire form to the client as an
opaque `context` (REST, and the widget across page loads), and reads the context back with
`Bot.state(context)`, which keeps only what the engine can trust. The wire form is lossless:
`bot.state(s.context()) == s` for every state the engine makes.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_TOPIC_CHARS = 200  # a topic is a few words ("side effects"); nothing longer is kept
MAX_NAMED = 6  # the medicines a conversation remembers by place ("the first one"): the latest


@dataclass(frozen=True)
class State:
    """The medicine being discussed, the person it is for, what was last asked about it,
    which section of the article answered last, if anything, the medicines the patient has
    named in order (for "the first one"), and whether crisis or emergency help was shown
    earlier in the conversation (a level, never the words that raised it)."""
    entity: str | None = None  # a medicine the lexicon knows: "methotrexate"
    topic: str | None = None  # "side effects", for "and for dupixent?"
    section: str | None = None  # the id of the section last answered from (its meaning)
    person: str | None = None  # who it is for, as the lexicon names them: "children", "pregnancy, liver"
    concern: str | None = None  # "crisis" or "emergency": help shown earlier (safety.CARRIED_NOTICE_AT)
    concern_sure: bool = False  # ... as the crisis or emergency reply itself: its notice stays
    named: tuple[str, ...] = ()  # medicines the patient named, first named first (MAX_NAMED)

    def context(self) -> dict[str, str | bool]:
        """The wire form: a JSON object with the fields that are set."""
        out: dict[str, str | bool] = {k: v for k, v in (
            ("entity", self.entity), ("topic", self.topic), ("section", self.section),
            ("person", self.person), ("concern", self.concern)) if v}
        if self.concern_sure:
            out["concern_sure"] = True
        if self.named:
            out["named"] = ", ".join(self.named)
        return out

    @property
    def empty(self) -> bool:
        """Nothing to read the next message with (a concern changes only safety's bar)."""
        return not self.entity and not self.topic and not self.section and not self.person


START = State()
