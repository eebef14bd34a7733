"""A patient-facing chatbot that answers from one dermatology article, verbatim.

`chatbot.core` is the pure engine (no Flask); `chatbot.server` and `chatbot.cli`
are thin layers over `Bot.reply(text, state)`.
"""
__version__ = "0.1.0"
