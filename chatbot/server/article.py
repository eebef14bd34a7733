"""The articles as readable pages: GET /article/<doc-slug>, where a reply's `source.url` points.

Built once, when the app starts, from the documents the engine loaded, so a page shows
exactly the passages the bot answers with. Each section question is an <h2> whose id is the
section's slug (`slugify(heading)`, as in passage ids), so `#what-are-jak-inhibitors` lands on
it. Every piece of text is HTML-escaped; the page runs no script.
"""
from __future__ import annotations

from html import escape

from chatbot.core.corpus import Document, slugify

BULLET = "• "

# No script at all; styles only from this page's own <style>.
CSP = "; ".join([
    "default-src 'none'",
    "script-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'self'",
])

STYLE = """
body { margin: 0; font: 18px/1.6 Georgia, "Times New Roman", serif; color: #222; background: #fbfaf7; }
main { max-width: 720px; margin: 0 auto; padding: 16px 24px 64px; }
h1 { font-size: 30px; line-height: 1.25; margin-bottom: 8px; }
h2 { font-size: 22px; line-height: 1.3; margin-top: 40px; scroll-margin-top: 16px; }
h2:target { background: #fff4c2; }
.byline { margin-top: 0; color: #444; }
.note { font-size: 16px; padding: 8px 12px; border-left: 4px solid #1d5fa8; background: #eef3fa; }
nav li { margin: 4px 0; }
a { color: #1d5fa8; }
"""


def doc_slug(doc: Document) -> str:
    """The article's part of a passage id and of its URL."""
    return slugify(doc.path.stem)


def render(doc: Document, note: str = "") -> str:
    """The whole page for one article; `note` (the bot's disclaimer) is shown under the byline."""
    meta = doc.meta
    byline = ", ".join(x for x in (meta.get("author", ""), meta.get("credentials", "")) if x)
    by_section: dict[str, list[str]] = {s: [] for s in doc.sections}
    for passage in doc.passages:
        by_section.setdefault(passage.section, []).append(passage.text)
    out = ['<!doctype html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f'<title>{escape(doc.title)}</title>', f'<style>{STYLE}</style>', '</head>',
           '<body>', '<main>', '<article>', '<header>', f'<h1>{escape(doc.title)}</h1>']
    if byline:
        out.append(f'<p class="byline">{escape(byline)}</p>')
    if meta.get("summary"):
        out.append(f'<p>{escape(meta["summary"])}</p>')
    if note:
        out.append(f'<p class="note">{escape(note)}</p>')
    out.append('</header>')
    out.append('<nav aria-label="Questions in this article"><ul>')
    out += [f'<li><a href="#{slugify(s)}">{escape(s)}</a></li>' for s in by_section]
    out.append('</ul></nav>')
    for section, texts in by_section.items():
        out.append(f'<section><h2 id="{slugify(section)}">{escape(section)}</h2>')
        for text in texts:
            out += _blocks(text)
        out.append('</section>')
    out += ['</article>', '</main>', '</body>', '</html>', '']
    return "\n".join(out)


def _blocks(text: str) -> list[str]:
    """A passage's paragraphs as <p>, its bullet lines ("• item") as one <ul> per list."""
    out: list[str] = []
    for paragraph in text.split("\n\n"):
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        words: list[str] = []
        items: list[str] = []
        for line in lines + [""]:  # the empty line closes whatever is open
            if line.startswith(BULLET.strip()):
                if words:
                    out.append(f'<p>{escape(" ".join(words))}</p>')
                    words = []
                items.append(line[len(BULLET.strip()):].strip())
                continue
            if items:
                out.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
                items = []
            if line:
                words.append(line)
        if words:
            out.append(f'<p>{escape(" ".join(words))}</p>')
    return out


def render_all(documents: list[Document], note: str = "") -> dict[str, str]:
    """Every article's page by its slug, in corpus order (the first is /article's)."""
    return {doc_slug(doc): render(doc, note) for doc in documents}
