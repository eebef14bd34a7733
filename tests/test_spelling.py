"""The speller's deletion index (chatbot/core/spelling.py)."""
from itertools import combinations

import pytest

from chatbot.core.spelling import SpellingCorrector, _deletes


@pytest.mark.parametrize("word", ["", "a", "mtx", "metotrexate", "abcabcabcabc",
                                  "qwertyuiopasdfghjklzxcvbnm"])
@pytest.mark.parametrize("distance", [0, 1, 2])
def test_deletes_are_every_word_with_up_to_distance_letters_removed(word, distance):
    expected = {"".join(c for i, c in enumerate(word) if i not in gone)
                for d in range(distance + 1) for gone in combinations(range(len(word)), d)}
    assert _deletes(word, distance) == expected


def test_a_word_longer_than_any_target_is_not_worked_on():
    speller = SpellingCorrector({"cyclosporine"}, {"cyclosporine"})
    assert speller.correct("cyclosporin") == "cyclosporine"
    junk = "qwertyuiopasdfghjklzxcv"  # longer than every target + 2: left as it is
    assert speller.knows(junk) and speller.correct(junk) == junk
