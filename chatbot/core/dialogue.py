"""PLACEHOLDER: the real engine replaces this file. Interface is stable."""
from __future__ import annotations

from chatbot.config import Settings

DISCLAIMER = ("General information from an article, not medical advice. Talk to your doctor "
              "before starting, stopping or changing a medicine.")


class Bot:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.passage_count = 1

    def welcome(self) -> dict:
        """{"text", "disclaimer", "suggestions"} shown when a chat opens."""
        return {"text": "Hi! Ask me about systemic eczema medicines.", "disclaimer": DISCLAIMER,
                "suggestions": ["What are biologics?"]}

    def reply(self, text: str, state: dict | None = None) -> tuple[dict, dict]:
        """Returns (reply object, new conversation state). Never raises on any str."""
        r = {"type": "reply", "kind": "no_answer", "text": "Not covered.", "disclaimer": DISCLAIMER,
             "confidence": 0.0, "suggestions": [], "source": None}
        return r, dict(state or {})


def load_bot(settings: Settings | None = None) -> Bot:
    return Bot(settings or Settings.from_env())
