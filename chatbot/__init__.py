"""A patient-facing chatbot that answers from one dermatology article, verbatim.

`chatbot.core` is the pure engine (no Flask); `chatbot.server` and `chatbot.cli`
are thin layers over `Bot.reply(text, state)`.
"""
import os

# numpy's BLAS starts a thread per core at import. The engine's products are a few thousand
# numbers, where threads only cost; and a thread the process does not need can take a signal
# meant for the main one: a Ctrl-C that lands on it leaves `ask`'s chat waiting in input()
# until the next key. So BLAS runs on the calling thread, unless the environment says else.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
