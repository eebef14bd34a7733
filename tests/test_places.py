"""Follow-ups that point back by place (chatbot.core.places): the pointer, the list it points
into, and the words put in its place."""
import pytest

from chatbot.core.corpus import CorpusError
from chatbot.core.places import OTHER, Places, replaced

TABLE = {"pointer": r"\bthe (?P<place>first|second|last|other) one\b|\bthe (?P<alone>latter)\b",
         "by_bot": r"\byou said\b",
         "positions": {"first": 1, "second": 2, "last": -1, "latter": -1, "other": OTHER}}


@pytest.fixture
def places(tmp_path):
    return Places.load(tmp_path / "conversation.toml", TABLE)


def test_the_pointer_is_found_with_its_position(places):
    match, position = places.find("is the second one ok for kids")
    assert (match.group(0), position) == ("the second one", 2)
    assert places.find("and the latter")[1] == -1
    assert places.find("is it ok for kids") is None


@pytest.mark.parametrize("position, listed, current, expected", [
    (1, ("methotrexate", "upadacitinib"), "upadacitinib", "methotrexate"),
    (2, ("methotrexate", "upadacitinib"), "upadacitinib", "upadacitinib"),
    (-1, ("a", "b", "c"), "a", "c"),
    (OTHER, ("dupilumab", "tralokinumab"), "tralokinumab", "dupilumab"),
    (OTHER, ("dupilumab", "tralokinumab", "upadacitinib"), "upadacitinib", "tralokinumab"),
    (3, ("methotrexate", "upadacitinib"), None, None),  # no third medicine was named
    (1, ("methotrexate",), "methotrexate", None),  # one medicine has no "first one"
    (OTHER, ("a", "b"), None, None),  # nothing discussed last to be "the other" of
])
def test_a_place_chooses_from_the_medicines_named(places, position, listed, current, expected):
    assert places.choose(position, listed, current) == expected


def test_the_medicine_takes_the_pointers_place_in_the_message_as_typed():
    assert replaced("OK, is The First  One safe?", "the first one", "methotrexate") \
        == "OK, is methotrexate safe?"
    assert replaced("nothing here", "the first one", "methotrexate") == "nothing here"


@pytest.mark.parametrize("change, message", [
    ({"pointer": None}, "pointer"),
    ({"pointer": r"\bthe (first|second) one\b"}, "groups"),
    ({"positions": {"first": "one"}}, "whole number"),
    ({"positions": {"first": True}}, "whole number"),
    ({"by_bot": "(unclosed"}, "bad pattern"),
])
def test_a_malformed_places_table_names_what_is_wrong(tmp_path, change, message):
    table = {k: v for k, v in {**TABLE, **change}.items() if v is not None}
    with pytest.raises(CorpusError, match=message):
        Places.load(tmp_path / "conversation.toml", table)
