"""Property-based tests of the engine: whatever a patient (or an attacker) types, and whatever
context a REST client sends back, `Bot.reply` returns a valid reply object and never raises.

The websocket and REST layers pass user text and the opaque `context` straight to the engine,
so the engine itself must hold up against arbitrary Unicode and arbitrary JSON state.
"""
from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings, strategies as st

from chatbot.core.state import State

KINDS = {"answer", "no_answer", "clarify", "emergency", "crisis", "smalltalk"}
NEEDS_DISCLAIMER = KINDS - {"smalltalk"}
SOURCE_KEYS = {"title", "author", "section", "passage_id", "url"}

# Words that steer the engine into its retrieval, follow-up and safety paths rather than
# bouncing every random string off the no_answer branch.
FRAGMENTS = [
    "methotrexate", "metotrexate", "dupixent", "dupixant", "Rinvoq", "MTX", "CellCept",
    "side effects", "pregnant", "breastfeeding", "its", "it", "what about", "pink eye",
    "shots", "pills", "labs", "hi", "thanks", "I can't breathe", "my lips are swelling",
    "I want to die", "kill myself", "my child swallowed pills", "?", "!!!", "...",
]
RTL = "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u202e\u202b\u200f"
EMOJI = "\U0001f600\U0001f9d1\u200d\U0001f4bb\U0001f1fa\U0001f1f8\ufe0f\u2764"

# every code point, plus lone surrogates: json.loads("\"\\ud800\"") hands the server one
any_char = st.one_of(st.characters(), st.characters(categories=["Cs"]))
control = st.characters(categories=["Cc", "Cf", "Zl", "Zp"])
special = st.sampled_from(list(RTL + EMOJI + "\x00\x1b\t\r\n\u00a0\u2028\ufeff\ufffd"))

texts = st.one_of(
    st.just(""),
    st.text(alphabet=any_char, max_size=200),
    st.text(alphabet=control, max_size=50),
    st.text(alphabet=st.one_of(special, any_char), max_size=80),
    # realistic words glued with junk: typos, emoji, RTL marks, control characters
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet=special, max_size=3)),
             max_size=12).map(" ".join),
    # huge: a paste of a whole document, or a key held down
    st.tuples(st.text(alphabet=st.one_of(special, any_char), min_size=1, max_size=20),
              st.integers(1_000, 20_000)).map(lambda t: t[0] * (t[1] // len(t[0]) + 1)),
    st.sampled_from(FRAGMENTS).map(lambda w: (w + " ") * 5_000),
)

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
              st.text(alphabet=any_char, max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=20,
)
# Keys the engine plausibly uses, so junk values land where real state would be read.
state_keys = st.one_of(st.sampled_from(["drug", "drugs", "topic", "last", "section", "passage_id",
                                         "history", "turns", "context", "kind", "lang"]),
                       st.text(max_size=12))
junk_states = st.one_of(st.none(), st.dictionaries(state_keys, json_values, max_size=6))


def check_reply(reply: object) -> None:
    """Everything the widget, the CLI and the REST client rely on in a reply object."""
    assert isinstance(reply, dict)
    assert reply["type"] == "reply"
    assert reply["kind"] in KINDS
    assert isinstance(reply["text"], str) and reply["text"].strip()
    assert isinstance(reply["disclaimer"], str)
    if reply["kind"] in NEEDS_DISCLAIMER:
        assert reply["disclaimer"].strip()
    conf = reply["confidence"]
    assert isinstance(conf, (int, float)) and not isinstance(conf, bool)
    assert not math.isnan(conf) and 0.0 <= conf <= 1.0
    sugg = reply["suggestions"]
    assert isinstance(sugg, list) and len(sugg) <= 3
    assert all(isinstance(s, str) and s.strip() for s in sugg)
    source = reply["source"]
    if reply["kind"] == "answer":
        assert source is not None
    if source is not None:
        assert isinstance(source, dict) and SOURCE_KEYS <= set(source)
        assert all(isinstance(source[k], (str, int)) for k in SOURCE_KEYS)
    # It must travel over the websocket as a UTF-8 JSON text frame, unchanged.
    encoded = json.dumps(reply, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert json.loads(encoded) == reply


def check_state(bot, state: object) -> None:
    """The new state goes back to REST clients as its `context`, so that must be plain JSON
    and read back as the same state."""
    assert isinstance(state, State)
    context = json.loads(json.dumps(state.context(), allow_nan=False))
    assert bot.state(context) == state


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.data_too_large])


@FAST
@given(text=texts)
def test_any_text_gets_a_valid_reply(bot, text):
    reply, state = bot.reply(text, {})
    check_reply(reply)
    check_state(bot, state)


@FAST
@given(text=texts, state=junk_states)
def test_junk_state_never_breaks_a_reply(bot, text, state):
    reply, new_state = bot.reply(text, state)
    check_reply(reply)
    check_state(bot, new_state)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(turns=st.lists(texts, min_size=2, max_size=6))
def test_a_conversation_of_anything_keeps_working(bot, turns):
    """State threaded through many odd turns, as a real chat does, stays valid."""
    state: State | None = None
    for text in turns:
        reply, state = bot.reply(text, state)
        check_reply(reply)
        check_state(bot, state)


@settings(max_examples=100, deadline=None)
@given(state=junk_states)
def test_junk_state_does_not_change_safety(bot, state):
    """A forged context can never hide an emergency: safety runs before anything else."""
    reply, _ = bot.reply("my throat is swelling and I can't breathe", state)
    assert reply["kind"] == "emergency"
    assert bot.settings.emergency_number in reply["text"]
