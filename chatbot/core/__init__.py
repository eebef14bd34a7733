"""The pure answer engine: corpus, text, retrieval, safety and dialogue.

Nothing here imports Flask, so the CLI starts fast and the engine can be tested
and benchmarked on its own.
"""
from chatbot.core.dialogue import Bot, load_bot
from chatbot.core.state import State

__all__ = ["Bot", "State", "load_bot"]
