"""Articles as Q&A passages: the unit the bot answers with, always verbatim.

A corpus file is Markdown: front matter (title, author, ...) between `---`
lines, then `## question` headings over the original answer text. Each
paragraph is a passage; a lead-in line ending in ':' keeps its bullet list
("Methotrexate can cause:" + its bullets), because a list without its lead-in
does not say what it lists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED_FIELDS = ("title", "author")
BULLET = "• "  # how Passage.text writes a list item
_BULLET = re.compile(r"^\s*(?:[•*\-\u2022\u25aa\u25cf])\s+")
_HEADING = re.compile(r"^##\s+(.*?)\s*#*\s*$")


class CorpusError(ValueError):
    """A corpus file cannot be used; the message names the file, the line and the fix."""

    def __init__(self, path: Path, line: int, problem: str):
        super().__init__(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")
        self.path, self.line, self.problem = path, line, problem

    def __reduce__(self):
        """Pickled whole, so an error met while training in a second process reaches the
        command line as itself (chatbot.training.risk_fitted_aside)."""
        return type(self), (self.path, self.line, self.problem)


# Sections shorter than this (in characters of text) are answered whole, as one passage.
SHORT_SECTION_CHARS = 400
# A paragraph that opens by pointing back ("These two cytokines...", "This might mean...")
# continues the one before it, so long as the two together stay within this many words.
CONTINUES = re.compile(r"^(These|This|Those|They|It)\b")
MAX_PASSAGE_WORDS = 150
LEAD_IN_WORDS = 20  # a section's opening sentence this short is answered with what follows


@dataclass(frozen=True)
class Passage:
    id: str
    section: str  # the section's question, shown as where the answer comes from
    text: str  # verbatim article text; bullets one per line as "• item"
    source_text: str  # exactly as in the file, for audit
    doc: "Document" = field(repr=False, compare=False)
    line: int = 0

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclass
class Document:
    path: Path
    meta: dict[str, str]
    sections: list[str] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.meta["title"]

    @property
    def author(self) -> str:
        return self.meta["author"]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _front_matter(path: Path, lines: list[str]) -> tuple[dict[str, str], int]:
    """Parses `key: value` lines between the opening and closing `---`; returns (meta, next line index)."""
    if not lines or lines[0].strip() != "---":
        raise CorpusError(path, 1, "expected front matter: a first line '---', then 'title: ...', "
                                   "'author: ...', then '---'")
    meta: dict[str, str] = {}
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            for key in REQUIRED_FIELDS:
                if not meta.get(key):
                    raise CorpusError(path, i + 1, f"front matter lacks '{key}: ...'")
            return meta, i + 1
        if not line.strip():
            continue
        if line.startswith("#"):
            raise CorpusError(path, i + 1, "front matter is not closed: add a '---' line before "
                                           "the first heading")
        key, sep, value = line.partition(":")
        if not sep or not key.strip() or " " in key.strip():
            raise CorpusError(path, i + 1, f"front matter line is not 'key: value': {line.strip()!r}")
        meta[key.strip().lower()] = value.strip()
    raise CorpusError(path, len(lines), "front matter is not closed with a '---' line")


def _blocks(lines: list[str], start: int) -> list[tuple[int, list[str]]]:
    """Groups lines into blank-line separated blocks, each with its 1-based first line number."""
    blocks, current, first = [], [], 0
    for i in range(start, len(lines)):
        if lines[i].strip():
            if not current:
                first = i + 1
            current.append(lines[i])
        elif current:
            blocks.append((first, current))
            current = []
    if current:
        blocks.append((first, current))
    return blocks


def _is_bullets(block: list[str]) -> bool:
    return all(_BULLET.match(line) for line in block)


def _bullet_text(block: list[str]) -> str:
    return "\n".join(BULLET + _BULLET.sub("", line).strip() for line in block)


def list_items(text: str) -> list[str]:
    """The items of a passage's bullet lists (Passage.text holds each on a line of its own,
    after BULLET)."""
    return [line[len(BULLET):] for line in text.splitlines() if line.startswith(BULLET)]


def parse_document(path: Path) -> Document:
    """Reads one corpus file into a Document; raises CorpusError on anything malformed."""
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(path, 1, f"is not UTF-8 text ({exc.reason})") from None
    lines = raw.splitlines()
    meta, body_start = _front_matter(path, lines)
    doc = Document(path=path, meta=meta)
    stem = slugify(path.stem)
    section, section_line, count = None, 0, 0
    pending: tuple[int, list[str]] | None = None  # a paragraph that may be a bullet lead-in

    def close_section() -> None:
        if section is not None and count == 0:
            raise CorpusError(path, section_line, f"section '## {section}' has no answer text under it")

    def emit(first: int, text: str, source: str) -> None:
        nonlocal count
        count += 1
        pid = f"{stem}/{slugify(section)}/{count}"
        doc.passages.append(Passage(pid, section, text, source, doc, first))

    for first, block in _blocks(lines, body_start):
        heading = _HEADING.match(block[0])
        if heading:
            if pending:
                emit(pending[0], "\n".join(pending[1]).strip(), "\n".join(pending[1]))
                pending = None
            close_section()
            if len(block) > 1:
                raise CorpusError(path, first + 1, "put a blank line between a heading and its text")
            section, section_line, count = heading.group(1).strip(), first, 0
            if not section:
                raise CorpusError(path, first, "empty '##' heading: write the question after '## '")
            if section in doc.sections:
                raise CorpusError(path, first, f"section '## {section}' appears twice")
            doc.sections.append(section)
            continue
        if block[0].startswith("#"):
            raise CorpusError(path, first, "only '## question' headings are allowed in the body")
        if section is None:
            raise CorpusError(path, first, "text before the first '## question' heading")
        if _is_bullets(block):
            if pending and pending[1][-1].rstrip().endswith(":"):
                lead = " ".join(line.strip() for line in pending[1])
                emit(pending[0], lead + "\n" + _bullet_text(block),
                     "\n".join(pending[1]) + "\n\n" + "\n".join(block))
                pending = None
                continue
            if pending:
                emit(pending[0], " ".join(line.strip() for line in pending[1]), "\n".join(pending[1]))
                pending = None
            emit(first, _bullet_text(block), "\n".join(block))
            continue
        if pending:
            emit(pending[0], " ".join(line.strip() for line in pending[1]), "\n".join(pending[1]))
        pending = (first, block)
    if pending:
        emit(pending[0], " ".join(line.strip() for line in pending[1]), "\n".join(pending[1]))
    if section is None:
        raise CorpusError(path, len(lines) or 1, "no '## question' sections found")
    close_section()
    doc.passages = _join_short_sections(_join_continuations(doc.passages))
    return doc


def _join(parts: list[Passage]) -> Passage:
    first = parts[0]
    return Passage(first.id, first.section, "\n\n".join(p.text for p in parts),
                   "\n\n".join(p.source_text for p in parts), first.doc, first.line)


def _join_continuations(passages: list[Passage]) -> list[Passage]:
    """A paragraph that points back keeps what it points to: "These two cytokines (a type of
    protein...) drive inflammation" alone would not say which two, so "what are IL-4 and IL-13?"
    could never find it. Bullet lists are never joined."""
    out: list[Passage] = []
    for p in passages:
        prev = out[-1] if out else None
        if prev and prev.section == p.section and CONTINUES.match(p.text) \
                and "•" not in prev.text + p.text \
                and prev.word_count + p.word_count <= MAX_PASSAGE_WORDS:
            out[-1] = _join([prev, p])
        else:
            out.append(p)
    return out


def _join_short_sections(passages: list[Passage]) -> list[Passage]:
    """A short section is one answer: its paragraphs are kept together as one passage.

    Split, a list's lead-in ("The main players available are:") or a closing remark ("As
    the name suggests, these drugs...") would be an answer without what it refers to.
    """
    by_section: dict[str, list[Passage]] = {}
    for p in passages:
        by_section.setdefault(p.section, []).append(p)
    out = []
    for section, parts in by_section.items():
        if len(parts) > 1 and sum(len(p.text) for p in parts) < SHORT_SECTION_CHARS:
            out.append(_join(parts))
        else:
            out.extend(parts)
    return out


def lead_ins(passages: list[Passage]) -> dict[str, Passage]:
    """Passages that only open their section ("there are several other options available"),
    each with the paragraph that delivers what it promises. Indexed apart (the next one may
    name a medicine the question is not about), they are answered together with it."""
    out = {}
    for i, p in enumerate(passages[:-1]):
        opens_section = i == 0 or passages[i - 1].section != p.section
        after = passages[i + 1]
        if opens_section and p.word_count <= LEAD_IN_WORDS and after.section == p.section:
            out[p.id] = after
    return out


def reply_text(passage: Passage, follow: dict[str, Passage]) -> str:
    """What an answer from `passage` shows: its text and, after a lead-in (`follow`: the
    lead_ins of its article), the paragraph it leads to."""
    if passage.id in follow:
        return passage.text + "\n\n" + follow[passage.id].text
    return passage.text


def load_corpus(directory: Path) -> list[Document]:
    """Every `*.md` article in `directory`, sorted by name so passage order is stable."""
    if not directory.is_dir():
        raise CorpusError(directory, 0, "corpus folder not found (set CORPUS_DIR to the folder "
                                        "holding the article .md files)")
    docs = [parse_document(p) for p in sorted(directory.glob("*.md"))]
    if not docs:
        raise CorpusError(directory, 0, "no article files (*.md) in the corpus folder")
    return docs
