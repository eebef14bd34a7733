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


def test_the_distance_is_nltks_edit_distance_with_transpositions():
    """jellyfish's compiled Damerau-Levenshtein, which the corrector uses, gives the distances
    nltk's edit_distance(transpositions=True) gives, on strings of few letters (where
    transpositions and repeats interact most) and on misspelt names."""
    import random

    from jellyfish import damerau_levenshtein_distance
    from nltk.metrics.distance import edit_distance

    rng = random.Random(0)
    pairs = [("".join(rng.choice("abcd") for _ in range(rng.randint(0, 8))),
              "".join(rng.choice("abcd") for _ in range(rng.randint(0, 8)))) for _ in range(5000)]
    pairs += [("ca", "abc"), ("metotrexate", "methotrexate"), ("dupixnet", "dupixent"),
              ("cyclosporin", "cyclosporine"), ("tralokinumab", "tralokimunab")]
    assert [damerau_levenshtein_distance(a, b) for a, b in pairs] \
        == [edit_distance(a, b, transpositions=True) for a, b in pairs]
