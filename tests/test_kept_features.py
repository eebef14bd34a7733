"""The labelled messages' features are kept between trainings, exactly as hashed."""
from __future__ import annotations

import numpy as np

from chatbot.kept_features import KeptFeatures
from chatbot.training import _flat, rows_of

TEXTS = ["can i take methotrexate pregnant", "dupixent pink eye?", "Ya no quiero despertar 😔",
         "can i take methotrexate pregnant", "thx"]


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_kept_features_are_the_features_hashed_afresh(tmp_path):
    fresh = KeptFeatures(tmp_path)
    expected = _flat(rows_of(TEXTS))
    assert same(fresh.flat(TEXTS), expected) and fresh.hashed == len(TEXTS)
    fresh.save()
    kept = KeptFeatures(tmp_path)
    assert same(kept.flat(TEXTS), expected) and kept.hashed == 0
    more = TEXTS + ["is rinvoq a biologic"]
    assert same(kept.flat(more), _flat(rows_of(more))) and kept.hashed == 1


def test_only_the_texts_asked_for_are_kept(tmp_path):
    first = KeptFeatures(tmp_path)
    first.flat(TEXTS)
    first.save()
    second = KeptFeatures(tmp_path)
    second.flat(TEXTS[:1])
    second.save()
    assert len(KeptFeatures(tmp_path).digests) == 1


def test_a_count_too_big_for_16_bits_is_kept_whole(tmp_path):
    texts = ["a " * 70_000]
    first = KeptFeatures(tmp_path)
    first.flat(texts)
    first.save()
    kept = KeptFeatures(tmp_path)
    assert same(kept.flat(texts), _flat(rows_of(texts))) and kept.hashed == 0


def test_an_unreadable_file_is_hashed_afresh_and_no_folder_keeps_nothing(tmp_path):
    features = KeptFeatures(tmp_path)
    features.flat(TEXTS)
    features.save()
    [kept] = tmp_path.iterdir()
    kept.write_bytes(b"not a zip")
    again = KeptFeatures(tmp_path)
    assert same(again.flat(TEXTS), _flat(rows_of(TEXTS))) and again.hashed == len(TEXTS)
    off = KeptFeatures(None)
    off.flat(TEXTS)
    off.save()  # nowhere to keep them: no error
