"""The risk model: numpy inference equals scikit-learn's, the saved model matches its
examples, and answering never needs scikit-learn."""
from __future__ import annotations

import json
import mmap
import shutil
import subprocess
import sys

import numpy as np
import pytest

from chatbot.core.answers import ANSWER_MODEL_FILE, AnswerModel, answer_files
from chatbot.core.examples import example_files, load_examples
from chatbot.core.classifier import buckets, data_key, tokens
from chatbot.core.corpus import CorpusError
from chatbot.core.risk import CLASSES, MODEL_FILE, RiskModel, model_for
from chatbot.training import (C, CLASS_WEIGHT, _matrix, fit_pipeline, fit_risk, rows_of,
                               to_model, with_sentences)
from live import ROOT

CORPUS = ROOT / "corpus"


@pytest.fixture(scope="module")
def examples():
    return load_examples(CORPUS)


def test_numpy_probabilities_equal_scikit_learns(examples):
    sample = examples[::7]  # a few thousand messages of every kind and author
    rows = [buckets(e.text) for e in sample]
    vocab, tfidf, clf = fit_pipeline(rows, [e.kind for e in sample], C, CLASS_WEIGHT)
    model = to_model(vocab, tfidf, clf)
    held_out = [e.text for e in examples[3::50]]
    expected = clf.predict_proba(tfidf.transform(_matrix([buckets(t) for t in held_out], vocab)))
    order = [list(clf.classes_).index(c) for c in CLASSES]
    got = np.array([model.probabilities(t) for t in held_out])
    np.testing.assert_allclose(got, expected[:, order], atol=1e-9)


def test_the_saved_models_were_trained_on_the_files_in_the_corpus():
    """Editing corpus/examples/ or an article without `chatbot train` fails here, not in
    production (where the engine would retrain at every start without a cache)."""
    assert RiskModel.load(CORPUS / MODEL_FILE).key == data_key(example_files(CORPUS)), \
        "run `chatbot train`"
    assert AnswerModel.load(CORPUS / ANSWER_MODEL_FILE).key == data_key(answer_files(CORPUS)), \
        "run `chatbot train`"


def test_saved_model_scores_survive_the_round_trip(tmp_path):
    saved = RiskModel.load(CORPUS / MODEL_FILE)
    saved.save(tmp_path / "again.npz")
    again = RiskModel.load(tmp_path / "again.npz")
    for text in ("i want to die", "what is dupixent", "my throat is closing"):
        np.testing.assert_allclose(again.probabilities(text), saved.probabilities(text), atol=1e-6)


def _owner(array: np.ndarray):
    """What finally holds an array's bytes (a view's base's base ...)."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array.obj if isinstance(array, memoryview) else array


def test_a_saved_model_is_read_in_place_from_its_mapped_file():
    """`ask` reads only the pages a message touches, not both models' 30 MB, and a
    server's workers share one copy: the arrays are read-only views of the mapped file."""
    model = RiskModel.load(CORPUS / MODEL_FILE)
    answers = AnswerModel.load(CORPUS / ANSWER_MODEL_FILE)
    for array in (model.vocab, model.idf, model.coef, *answers.arrays.values()):
        assert isinstance(_owner(array), mmap.mmap) and not array.flags.writeable
    assert model.coef.dtype == np.float32 and model.vocab.dtype == np.int32  # as saved


def test_a_model_saved_over_one_in_use_leaves_the_one_in_use_whole(tmp_path):
    """Training writes beside the old file and renames: a server still reading the old
    mapping keeps its answers (a file rewritten in place would crash it)."""
    path = tmp_path / "risk.npz"
    shutil.copy(CORPUS / MODEL_FILE, path)
    in_use = RiskModel.load(path)
    before = in_use.probabilities("i want to die")
    RiskModel(in_use.vocab, in_use.idf, -in_use.coef, in_use.intercept, "other").save(path)
    np.testing.assert_array_equal(in_use.probabilities("i want to die"), before)
    assert RiskModel.load(path).key == "other" and [p.name for p in tmp_path.iterdir()] == [
        "risk.npz"]


def test_a_save_that_fails_leaves_the_old_model_and_no_scrap(tmp_path, monkeypatch):
    """A full disk mid-save: the old model is still there to load, and no half-written file
    is left beside it."""
    path = tmp_path / "risk.npz"
    shutil.copy(CORPUS / MODEL_FILE, path)
    model = RiskModel.load(path)

    def disk_full(f, **arrays):
        f.write(b"PK\x03\x04 a few bytes")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        RiskModel(model.vocab, model.idf, model.coef, model.intercept, "other").save(path)
    assert RiskModel.load(path).key == model.key and [p.name for p in tmp_path.iterdir()] == [
        "risk.npz"]


@pytest.mark.parametrize("write", [
    lambda path, arrays: np.savez_compressed(path, **arrays),
    lambda path, arrays: path.write_bytes(b"not a zip file at all"),
    lambda path, arrays: path.write_bytes((CORPUS / MODEL_FILE).read_bytes()[:5000]),
], ids=["compressed", "not a zip", "cut short"])
def test_a_model_file_that_cannot_be_mapped_says_to_train_again(tmp_path, write):
    with np.load(CORPUS / MODEL_FILE) as saved:
        arrays = {k: saved[k] for k in saved.files}
    path = tmp_path / "risk.npz"
    write(path, arrays)
    with pytest.raises(CorpusError, match="run `chatbot train`"):
        RiskModel.load(path)


def test_edited_examples_are_learned_once_and_kept_in_the_cache(tmp_path):
    corpus = tmp_path / "corpus"  # a small one: what is learned matters less than when
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("*_questions.jsonl"))
    lines = (CORPUS / "examples" / "safety.jsonl").read_text().splitlines(keepends=True)[:2000]
    lines.append('{"id": "t1", "author": "clinic", "kind": "none", "text": "is parking free"}\n')
    (corpus / "examples" / "safety.jsonl").write_text("".join(lines))
    cache = tmp_path / "cache"
    model = model_for(corpus, cache)
    assert model.key == data_key(example_files(corpus)) != RiskModel.load(CORPUS / MODEL_FILE).key
    assert [p.name for p in cache.glob("risk-*.npz")] == [f"risk-{model.key}.npz"]
    assert model_for(corpus, cache).key == model.key


def test_a_corpus_without_examples_has_no_model_and_the_rules_alone_judge(tmp_path):
    assert model_for(tmp_path, None) is None


def test_tokens_fold_case_accents_apostrophes_and_keep_emoji():
    assert tokens("Ya no quiero despertar MAÑANA 😔, can't") == [
        "ya", "no", "quiero", "despertar", "manana", "😔", "cant"]


def test_a_script_without_spaces_is_read_a_character_at_a_time():
    """Chinese, Japanese kana and Thai have no spaces between words: a whole run read as one
    word would never recur, so each character is a word and the pairs are its bigrams (Thai's
    runs are words too: the test below)."""
    assert tokens("我不想活了 Dupixent") == ["我", "不", "想", "活", "了", "dupixent"]
    assert tokens("薬をもらった") == ["薬", "を", "も", "ら", "っ", "た"]
    assert len(tokens("안녕하세요 감사")) == 2  # Korean puts spaces between its words


def test_thai_is_read_by_its_letters_and_by_its_runs_with_their_marks():
    """Thai has spaces between phrases, not words: its letters alone read like English letter
    by letter, so each run is a word too (its character n-grams are the syllables), and its
    vowel signs and tone marks stay: "ค่ะ" is not "คะ"."""
    assert tokens("แพ้ยา ค่ะ") == ["แ", "พ", "้", "ย", "า", "ค", "่", "ะ", "แพ้ยา", "ค่ะ"]
    assert tokens("ok แพ้") == ["ok", "แ", "พ", "้", "แพ้"]


def test_vowel_signs_and_viramas_stay_in_their_words():
    """In Devanagari, Kannada, Khmer and their kin a vowel sign or a virama is a combining
    mark that belongs to its word: taken off as if it were an accent, "मुझे" fell apart into
    "म" and "झ", and every message in the script shared the same few letters."""
    assert tokens("मुझे एक्जिमा है") == ["मुझे", "एक्जिमा", "है"]
    assert tokens("ನಮಸ್ಕಾರ ಡಾಕ್ಟರ್") == ["ನಮಸ್ಕಾರ", "ಡಾಕ್ಟರ್"]
    assert tokens("Ελένη, ça va? Ёлка") == ["ελενη", "ca", "va", "елка"]  # accents still go


def test_ask_answers_without_importing_scikit_learn():
    code = ("import sys; from chatbot.cli import ask_main; ask_main(['i want to die']); "
            "print('sklearn' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize("text", ["Ya no quiero despertar mañana 😔", "我不想活了", "", "ok",
                                  "can't   BREATHE!! throat closing after adbry",
                                  "ça va très bien, merci", "x" * 40 + " y"])
def test_buckets_hash_each_feature_as_features_lists_it(text, examples):
    """buckets() hashes without building the feature strings; it must count exactly what
    hashing features() one by one would, or a saved model would read messages differently."""
    import zlib

    from chatbot.core.classifier import HASH_BITS, buckets, features

    def one_by_one(t: str) -> dict[int, int]:
        counts: dict[int, int] = {}
        for f in features(t):
            k = zlib.crc32(f.encode("utf-8")) & ((1 << HASH_BITS) - 1)
            counts[k] = counts.get(k, 0) + 1
        return counts

    assert buckets(text) == one_by_one(text)
    for e in examples[::50]:
        assert buckets(e.text) == one_by_one(e.text)
    # training reads every example with one store of each word's n-grams: the same counts
    assert rows_of([text] + [e.text for e in examples[::50]] + [text]) == \
        [buckets(text)] + [buckets(e.text) for e in examples[::50]] + [buckets(text)]


def test_the_risk_model_also_learns_the_sentences_of_ordinary_messages():
    """A long message is judged sentence by sentence, so the sentences of ordinary messages
    are ordinary examples too; a crisis's sentences are not labelled (most alone are not one)."""
    from chatbot.core.examples import Example
    ordinary = Example("I do hope this is no bother. Is Rinvoq a tablet? My son takes it.", "none", "a", "x:1")
    crisis = Example("My eczema is awful. I want to end my life tonight. Goodbye.", "crisis", "a", "x:2")
    short = Example("is it a pill", "none", "a", "x:3")
    got = with_sentences([ordinary, crisis, short])
    assert got[:3] == [ordinary, crisis, short]
    assert [(e.text, e.kind) for e in got[3:]] == [
        ("I do hope this is no bother.", "none"), ("Is Rinvoq a tablet?", "none"),
        ("My son takes it.", "none")]


def test_examples_a_clinic_adds_are_learned_as_the_optimum_learns_them(examples):
    """A clinic adds the messages its model got wrong, and `chatbot train` starts the fit from
    the model saved before. It still reaches the optimum on them: the fit stops on how far its
    last step moved any example (chatbot.newton), where scikit-learn's stopping rule, a mean
    over every example, let a started fit stop while it still judged them as before."""
    base = examples[::7]
    before = fit_risk([buckets(e.text) for e in base], [e.kind for e in base])
    missed = [e for e in examples[3::11] if getattr(before.assess(e.text), e.kind, 1.0) < 0.5
              and e.kind != "none"][:8]  # crises and emergencies it gave less than even odds
    assert missed, "the earlier model missed nothing: the test would prove nothing"
    more = base + missed
    rows, labels = [buckets(e.text) for e in more], [e.kind for e in more]
    started = fit_risk(rows, labels, start=before)
    vocab, tfidf, exact = fit_pipeline(rows, labels, C, CLASS_WEIGHT, tol=1e-8)  # the optimum
    expected = exact.predict_proba(tfidf.transform(_matrix([buckets(e.text) for e in missed], vocab)))
    order = [list(exact.classes_).index(c) for c in CLASSES]
    got = np.array([started.probabilities(e.text) for e in missed])
    assert np.abs(got - expected[:, order]).max() < 0.02


def test_a_fit_starts_only_from_a_model_of_the_same_features(examples):
    from chatbot.training import FEATURES, _start

    model = fit_risk([buckets(e.text) for e in examples[::31]], [e.kind for e in examples[::31]])
    assert model.extra["features"] == FEATURES
    coef, intercept = _start(model, model.vocab)
    assert np.array_equal(coef, model.coef) and np.array_equal(intercept, model.intercept)
    wider = np.union1d(model.vocab, [1, 2, 3])  # features it never saw start at zero
    assert not _start(model, wider)[0][:, np.isin(wider, [1, 2, 3])].any()
    model.extra["features"] = "v0-bits1"
    assert _start(model, model.vocab) is None


def test_a_model_from_kept_features_is_the_model_from_fresh_ones(examples, tmp_path):
    from chatbot.kept_features import KeptFeatures
    from chatbot.training import train

    sample = examples[::11]
    fresh = train(sample)
    first = KeptFeatures(tmp_path)
    train(sample, features=first)
    first.save()
    kept = KeptFeatures(tmp_path)
    again = train(sample, features=kept)
    assert kept.hashed == 0
    assert np.array_equal(again.coef, fresh.coef) and np.array_equal(again.vocab, fresh.vocab)


def test_a_risky_conversation_teaches_its_last_turn_unless_it_is_ordinary_elsewhere(tmp_path):
    """The last turn of a conversation ending in a crisis is taught as one, its earlier turns
    not at all; but a last turn another example labels ordinary ("gn", small talk elsewhere)
    is risky only after what came before it, so it is left out rather than taught both ways."""
    folder = tmp_path / "examples"
    folder.mkdir()
    rows = [
        {"id": "A1", "author": "a", "turns": ["is mtx safe", "ive saved up my pills for friday"],
         "expect": {"kind": "crisis"}},
        {"id": "A2", "author": "a", "turns": ["nobody will miss me", "gn"], "expect": {"kind": "crisis"}},
        {"id": "B1", "author": "b", "turns": ["thanks", "gn"], "expect": {"kind": "smalltalk"}},
    ]
    (folder / "x_questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = sorted((e.text, e.kind) for e in load_examples(tmp_path))
    assert got == [("gn", "none"), ("ive saved up my pills for friday", "crisis"), ("thanks", "none")]


def test_a_vocabulary_given_out_of_order_is_sorted_with_its_weights():
    """A saved model's vocabulary is sorted already and loads without a copy; one given out of
    order is sorted, each weight moving with its feature."""
    vocab, idf = np.array([9, 1, 5]), np.array([3.0, 1.0, 2.0])
    coef = np.array([[0.3, 0.1, 0.2], [0.0, 0.0, 0.0], [-0.3, -0.1, -0.2]])
    model = RiskModel(vocab, idf, coef, np.zeros(3))
    assert model.vocab.tolist() == [1, 5, 9] and model.idf.tolist() == [1.0, 2.0, 3.0]
    assert model.coef[0].tolist() == [0.1, 0.2, 0.3] and model.coef[2].tolist() == [-0.1, -0.2, -0.3]
