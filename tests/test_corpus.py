"""The chunker: passages are verbatim article text, lists keep their lead-in, bad files fail loudly."""
from __future__ import annotations

import re
import shutil

import pytest
from conftest import ROOT, SHARED

from chatbot.config import Settings
from chatbot.core import load_bot
from chatbot.core.corpus import MAX_PASSAGE_WORDS, CorpusError, load_corpus, parse_document
from chatbot.core.lexicon import Lexicon

ARTICLE = SHARED / "article" / "systemic-immunomodulators-eczema.txt"
CORPUS = ROOT / "corpus"


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("•", " ")).strip()


@pytest.fixture(scope="module")
def doc():
    return load_corpus(CORPUS)[0]


def test_every_passage_is_verbatim_article_text(doc):
    original = squash(ARTICLE.read_text(encoding="utf-8"))
    for p in doc.passages:
        assert squash(p.text) in original, p.id
        assert p.source_text in CORPUS.joinpath(doc.path.name).read_text(encoding="utf-8")


def test_every_article_paragraph_is_in_some_passage(doc):
    """Restoring the questions lost nothing: each paragraph of the original is answerable."""
    passages = " ".join(squash(p.text) for p in doc.passages)
    paragraphs = [squash(b) for b in ARTICLE.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    missing = [b for b in paragraphs[1:-1] if b not in passages]  # intro and bio live elsewhere
    assert not missing


@pytest.mark.parametrize("lead, bullet", [
    ("Methotrexate can cause:", "mouth sores"),
    ("The potential side effects of JAK inhibitors include:", "low platelet count"),
    ("Immunosuppressants used to treat moderate to severe eczema include:", "azathioprine"),
])
def test_bullets_stay_with_their_lead_in(doc, lead, bullet):
    [p] = [p for p in doc.passages if p.text.startswith(lead)]
    assert f"• {bullet}" in p.text.splitlines()


@pytest.mark.parametrize("first, last", [
    ("Immunosuppressants used to treat", "suppressing different parts of the immune system."),
    ("Yes, there are a number of different types", "Janus kinase (JAK) inhibitors"),
])
def test_a_short_section_is_one_passage(doc, first, last):
    """A list's lead-in or a closing "As the name suggests..." is never an answer on its own."""
    [p] = [p for p in doc.passages if p.text.startswith(first)]
    assert p.text.endswith(last)
    assert len([q for q in doc.passages if q.section == p.section]) == 1


@pytest.mark.parametrize("before, after", [
    ("reduces levels of both IL-4 and IL-13.", "These two cytokines"),
    ("JAK1, JAK2, JAK3, and Tyrosine kinase 2 (Tyk2).", "These enzymes play a crucial role"),
])
def test_a_paragraph_pointing_back_stays_with_what_it_points_to(doc, before, after):
    """ "These two cytokines ... drive inflammation" alone would not say which two."""
    [p] = [p for p in doc.passages if after in p.text]
    assert before in p.text and p.text.index(before) < p.text.index(after)


def test_a_sections_short_opening_is_answered_with_what_follows(bot):
    """ "There are several other options available." alone promises an answer and gives none."""
    reply, _ = bot.reply("methotrexate didnt do anything for me", {})
    assert reply["text"].startswith("If a systemic immunomodulatory treatment is not effective")
    assert "respond beautifully to another type" in reply["text"]
    # the opening and the passage it leads in to: either may be the one the reply names
    assert reply["source"]["passage_id"].rsplit("/", 1)[0].endswith(
        "what-if-a-systemic-treatment-does-not-work")


def test_only_a_short_section_opening_is_a_lead_in(doc):
    from chatbot.core.corpus import lead_ins
    leads = lead_ins(doc.passages)
    assert [p.text.split(",")[0] for p in doc.passages if p.id in leads] == \
        ["If a systemic immunomodulatory treatment is not effective in managing someone’s eczema"]
    assert all(leads[p.id].section == p.section for p in doc.passages if p.id in leads)


def test_passages_are_short_and_ids_unique_and_stable(doc):
    assert all(p.word_count <= MAX_PASSAGE_WORDS for p in doc.passages)
    ids = [p.id for p in doc.passages]
    assert len(set(ids)) == len(ids)
    again = parse_document(doc.path)
    assert [p.id for p in again.passages] == ids


def test_front_matter_is_read(doc):
    assert doc.title and doc.author == "Dr. Joan Paul"
    assert "What are JAK inhibitors?" in doc.sections


GOOD = "---\ntitle: T\nauthor: A\n---\n\n## A question?\n\nAn answer.\n"


@pytest.mark.parametrize("text, line, words", [
    ("## Q?\n\nA.\n", 1, "front matter"),
    ("---\ntitle: T\n---\n\n## Q?\n\nA.\n", 3, "author"),
    ("---\ntitle: T\nauthor: A\n\n## Q?\n\nA.\n", 5, "not closed"),
    ("---\ntitle: T\nauthor: A\n", 3, "not closed"),
    ("---\ntitle: T\nauthor A\n---\n\n## Q?\n\nA.\n", 3, "not 'key: value'"),
    ("---\ntitle: T\nauthor: A\n---\n\nStray text.\n\n## Q?\n\nA.\n", 6, "before the first"),
    ("---\ntitle: T\nauthor: A\n---\n\n## Q?\n\n## R?\n\nA.\n", 6, "no answer text"),
    ("---\ntitle: T\nauthor: A\n---\n\n## Q?\n\nA.\n\n## Q?\n\nB.\n", 10, "appears twice"),
    ("---\ntitle: T\nauthor: A\n---\n\n# Big title\n\n## Q?\n\nA.\n", 6, "only '## question'"),
    ("---\ntitle: T\nauthor: A\n---\n", 4, "no '## question'"),
])
def test_malformed_file_names_file_line_and_problem(tmp_path, text, line, words):
    path = tmp_path / "bad.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        parse_document(path)
    assert err.value.line == line
    assert words in str(err.value) and str(path) in str(err.value)


def test_a_good_minimal_file_parses(tmp_path):
    path = tmp_path / "ok.md"
    path.write_text(GOOD, encoding="utf-8")
    assert [p.text for p in parse_document(path).passages] == ["An answer."]


def test_nothing_starts_on_a_broken_corpus(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    (tmp_path / "corpus" / "broken.md").write_text("no front matter\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="broken.md:1"):
        load_bot(Settings(corpus_dir=tmp_path / "corpus"))


def test_a_second_article_dropped_in_is_indexed(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    (tmp_path / "corpus" / "sunscreen.md").write_text(
        "---\ntitle: Sun care\nauthor: Dr. Sol\n---\n\n## Which sunscreen protects eczema skin?\n\n"
        "A mineral sunscreen with zinc oxide is gentle on eczema-prone skin.\n", encoding="utf-8")
    bot = load_bot(Settings(corpus_dir=tmp_path / "corpus"))
    # retrieval alone: the answer model, stale with the new article, would be fitted on the
    # spot for seconds (test_answers.py covers a section the models have no examples of)
    bot.answers = None
    reply, _ = bot.reply("is zinc oxide sunscreen ok for eczema skin", {})
    assert reply["kind"] == "answer"
    assert reply["source"]["author"] == "Dr. Sol" and "zinc oxide" in reply["text"]


@pytest.mark.parametrize("line, ok", [
    ("types = how many", True),  # several common words: specific enough
    ("types = how", False),  # one common word would match almost any question
    ("how many = kinds", False),  # article words must be ones a passage can hold
])
def test_lexicon_phrases_of_common_words(tmp_path, line, ok):
    path = tmp_path / "lexicon.txt"
    path.write_text(f"[words]\n{line}\n")
    common = frozenset({"how", "many"})
    if ok:
        assert Lexicon.load(path, str, common).entries
    else:
        with pytest.raises(CorpusError, match="only common words"):
            Lexicon.load(path, str, common)


def test_people_must_name_lexicon_entries(tmp_path):
    """conversation.toml's `people` (who a conversation remembers a medicine is for) names
    lexicon entries by their first article phrase; a name the lexicon lacks stops loading."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    talk = tmp_path / "corpus" / "conversation.toml"
    text = talk.read_text(encoding="utf-8")
    talk.write_text(text.replace('people = ["children",', 'people = ["kiddos",'), encoding="utf-8")
    with pytest.raises(CorpusError, match="conversation.toml.*kiddos"):
        load_bot(Settings(corpus_dir=tmp_path / "corpus", cache_dir=None))


@pytest.mark.parametrize("line, wrong, message", [
    ('plural_pointers = "they"', r"^plural_pointers = \[.*\]$", "'plural_pointers' must be a list"),
    ('plural_pointers = ["they", 2]', r"^plural_pointers = \[.*\]$", "'plural_pointers' must be a list"),
    ('clarify = ["Which medicine?"]', r"^clarify = .*$", "'clarify' must be a non-empty string"),
    ('clarify = "  "', r"^clarify = .*$", "'clarify' must be a non-empty string"),
    ('"age limits" = "young children and older adults"', r'^"age limits" = \[.*\]$',
     "'age limits' must be a list"),
])
def test_conversation_fields_have_their_types(tmp_path, line, wrong, message):
    """A string where conversation.toml wants a list (read as the set of its letters) or a
    list where it wants the bot's words stops loading, naming the file and the key."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    talk = tmp_path / "corpus" / "conversation.toml"
    text, count = re.subn(wrong, line, talk.read_text(encoding="utf-8"), count=1, flags=re.M)
    assert count == 1, "the line to replace is in conversation.toml"
    talk.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=f"conversation.toml.*{re.escape(message)}"):
        load_bot(Settings(corpus_dir=tmp_path / "corpus", cache_dir=None))
