"""The pages and files the Procfile's server sends: the article at /article/<slug>, the embed
example with the server's own address, and web/ files gzip-compressed with ETags (issue 15)."""
from __future__ import annotations

import gzip
import json
import re
import shutil
import time
from pathlib import Path
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from conftest import named_servers
from live import ROOT
from test_server import http_request, rest_ask, wait_for_event

WIDGET = ROOT / "web" / "widget.js"
WIDGET_DOC = ROOT / "docs" / "widget.md"


class Page(HTMLParser):
    """What a test needs of an HTML page: element ids, each element's text, script srcs, links."""

    def __init__(self, html: str):
        super().__init__()
        self.ids: dict[str, str] = {}  # id -> tag
        self.text: dict[str, list[str]] = {}  # tag -> the text inside each such element
        self.scripts: list[str] = []
        self.links: list[str] = []
        self.inline_scripts = 0
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids[attrs["id"]] = tag
        if tag == "script":
            if attrs.get("src"):
                self.scripts.append(attrs["src"])
            else:
                self.inline_scripts += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        self._open.append(tag)
        self.text.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if tag in self._open:
            while self._open.pop() != tag:
                pass

    def handle_data(self, data):
        for tag in set(self._open):
            self.text[tag][-1] += data


def get_page(server, path: str, headers: dict | None = None) -> tuple[int, dict, str]:
    status, hdrs, body = http_request(server, "GET", path, headers=headers)
    return status, hdrs, body.decode("utf-8")


# ---- the article ---------------------------------------------------------------------------

def test_every_passage_links_to_its_section_on_the_article_page(server, bot):
    """The engine's source.url for each section's answers, and for every passage, lands on an
    element with that id on a page the server serves."""
    urls = {}
    for section in bot.sections:  # a tapped suggestion chip: answered from that section
        status, _, reply = rest_ask(server, {"text": section})
        assert status == 200 and reply["kind"] == "answer", section
        urls[reply["source"]["url"]] = section
    for passage in bot.passages:
        doc, section, _ = passage.id.split("/")
        urls.setdefault(f"/article/{doc}#{section}", passage.section)
    pages: dict[str, Page] = {}
    for url, section in urls.items():
        path, _, fragment = url.partition("#")
        assert path.startswith("/article/") and fragment, url
        if path not in pages:
            status, headers, html = get_page(server, path)
            assert status == 200 and headers["Content-Type"].startswith("text/html"), path
            pages[path] = Page(html)
        assert pages[path].ids.get(fragment) == "h2", url
    # every heading the page shows is a section the engine answers from, under its own id
    shown = [t.strip() for p in pages.values() for t in p.text["h2"]]
    assert sorted(shown) == sorted(bot.sections)


def test_the_article_page_reads_like_the_article(server, bot):
    doc = bot.documents[0]
    status, headers, html = get_page(server, f"/article/{doc.path.stem}")
    assert status == 200
    page = Page(html)
    assert page.text["h1"] == [doc.meta["title"]]
    assert doc.meta["author"] in html and doc.meta["credentials"] in html
    assert html.index(doc.meta["credentials"]) < html.index("<h2")  # at the top
    items = [t.strip() for t in page.text["li"]]
    bullets = [line[2:] for p in doc.passages for line in p.text.splitlines()
               if line.startswith("• ")]
    assert bullets and set(bullets) <= set(items)  # every bullet is a list item
    assert not [t for t in page.text["p"] if "•" in t]
    # the page runs no script, and says so
    csp = {d.split()[0]: d.split()[1:] for d in headers["Content-Security-Policy"].split("; ")}
    assert csp["script-src"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["default-src"] == ["'none'"]
    assert page.scripts == [] and page.inline_scripts == 0
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_article_redirects_and_unknown_articles(server, bot):
    status, headers, _ = http_request(server, "GET", "/article")
    assert status in {301, 302, 303, 307, 308}
    assert urlsplit(headers["Location"]).path == f"/article/{bot.documents[0].path.stem}"
    status, headers, body = http_request(server, "GET", "/article/no-such-article")
    error = json.loads(body)
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert error["type"] == "error" and error["code"] == "not_found"
    assert "/article/" + bot.documents[0].path.stem in error["message"]  # what exists


HOSTILE = """---
title: <script>alert("title")</script> & friends
author: Dr. <b>Bold</b>
credentials: "MD" <i>&amp;</i>
---

## Is <img src=x onerror=alert(1)> safe?

Plain text with <script>alert("body")</script> and a & and "quotes".

Lead-in to the list:

  • <b>bullet</b> one
  • second & last
"""


@pytest.fixture(scope="module")
def own_servers(tmp_path_factory):
    """The two tests of a setting of their own, each on a server nobody else uses, started
    together when the first is needed.

    The hostile article's corpus is the articles and their settings without examples/ (nor
    models/, trained on them): with them, a new article changes what the answer model was
    trained on, and each of the two workers would retrain it with scikit-learn as it boots
    (half a minute, to well over the start timeout on a busy machine). Without examples a
    corpus has no models, and retrieval and the phrase rules alone answer; the pages, which
    these tests read, come from the articles alone. test_corpus.py checks that an article
    dropped into the full corpus is learned."""
    tmp = tmp_path_factory.mktemp("pages")
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("examples", "models"))
    (corpus / "aaa-hostile.md").write_text(HOSTILE)
    envs = {"hostile": {"CORPUS_DIR": str(corpus)},
            "public_url": {"PUBLIC_URL": "https://chat.example-clinic.org/",
                           "ALLOWED_ORIGINS": "https://clinic.example",
                           "WEB_CONCURRENCY": "2"}}  # logged once by two workers
    yield from named_servers(tmp, envs)


def wait_until_workers_idle(live, timeout: float = 60.0, quiet: float = 0.5) -> None:
    """Waits until every gunicorn worker has booted: each is asleep (not running or
    runnable) and has used no CPU time for `quiet` seconds. Loading the app is one stretch
    of CPU work, so a worker still loading is never both."""
    def sample() -> dict[int, tuple[str, int]]:
        out = {}
        for pid in live.pids()[1:]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (fields[0], int(fields[11]) + int(fields[12]))  # state, utime + stime
        return out

    deadline = time.monotonic() + timeout
    last, quiet_since = sample(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = sample()
        if now != last or len(now) < 2 or any(state != "S" for state, _ in now.values()):
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return
    raise AssertionError(f"the workers were still busy after {timeout} s: {last}")


def test_every_piece_of_article_text_is_escaped(own_servers):
    live = own_servers["hostile"]
    status, headers, _ = http_request(live, "GET", "/article")
    assert urlsplit(headers["Location"]).path == "/article/aaa-hostile"  # the first by name
    status, _, html = get_page(live, "/article/aaa-hostile")
    assert status == 200
    page = Page(html)
    assert page.scripts == [] and page.inline_scripts == 0
    assert not {"img", "b", "i"} & set(page.text)  # no markup from the file became markup
    assert page.text["h1"] == ['<script>alert("title")</script> & friends']
    assert page.ids["is-img-src-x-onerror-alert-1-safe"] == "h2"
    assert [t.strip() for t in page.text["li"] if "bullet" in t or "last" in t] == [
        "<b>bullet</b> one", "second & last"]
    assert "&lt;script&gt;alert(&quot;body&quot;)&lt;/script&gt;" in html
    assert "Dr. &lt;b&gt;Bold&lt;/b&gt;" in html


# ---- the embed example -----------------------------------------------------------------------

def test_the_demo_pages_embed_link_loads_the_servers_own_widget(server):
    _, _, index = get_page(server, "/")
    assert "/embed.html" in Page(index).links
    status, _, html = get_page(server, "/embed.html")
    assert status == 200 and "BOT-HOST" not in html
    assert Page(html).scripts == [f"{server.url}/widget.js"]
    status, headers, body = http_request(server, "GET", urlsplit(Page(html).scripts[0]).path)
    assert status == 200 and "javascript" in headers["Content-Type"] and body


def test_the_embed_page_never_names_a_host_it_does_not_trust(server):
    """A forged Host header must not put someone else's script address in the page."""
    status, headers, html = get_page(server, "/embed.html", headers={"Host": "evil.example"})
    assert status == 200 and "evil.example" not in html and "BOT-HOST" not in html
    assert Page(html).scripts == ["/widget.js"]  # this same server
    assert "Host" in headers["Vary"]


def test_public_url_fills_in_the_embed_page_and_the_start_is_logged_once(own_servers):
    live = own_servers["public_url"]
    for host in (None, "evil.example"):
        _, _, html = get_page(live, "/embed.html", headers={"Host": host} if host else None)
        assert Page(html).scripts == ["https://chat.example-clinic.org/widget.js"]
    found = wait_for_event(live, lambda e: e["event"] == "start")
    assert found[0]["allowed_origins"] == ["https://clinic.example"]
    assert found[0]["public_url"] == "https://chat.example-clinic.org"
    # once every worker has loaded the app (each would have logged by then), count again
    wait_until_workers_idle(live)
    starts = [line for line in live.log().splitlines() if '"event": "start"' in line]
    assert len(starts) == 1, live.log()


# ---- compression and validators -------------------------------------------------------------

def test_widget_is_gzipped_with_an_etag_and_revalidated_with_304(server):
    status, plain_h, plain = http_request(server, "GET", "/widget.js")
    assert status == 200 and "Content-Encoding" not in plain_h  # http.client asks for identity
    status, headers, packed = http_request(server, "GET", "/widget.js",
                                           headers={"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed) == plain and len(packed) < len(plain) / 2
    assert int(headers["Content-Length"]) == len(packed)
    cache = {d.strip() for d in headers["Cache-Control"].split(",")}
    assert {"max-age=300", "must-revalidate"} <= cache
    assert "Accept-Encoding" in headers["Vary"]
    assert headers["Access-Control-Allow-Origin"] == "*"  # clinics' pages still load it
    etag = headers["ETag"]
    assert re.fullmatch(r'"[^"]+"', etag) and etag != plain_h["ETag"]
    for tag in (etag, plain_h["ETag"], f'"x", {etag}', "*"):
        status, again, body = http_request(server, "GET", "/widget.js",
                                           headers={"If-None-Match": tag,
                                                    "Accept-Encoding": "gzip"})
        assert (status, body) == (304, b"") and again["ETag"] == etag
    status, _, body = http_request(server, "GET", "/widget.js",
                                   headers={"If-None-Match": '"stale"'})
    assert status == 200 and body == plain
    status, headers, body = http_request(server, "GET", "/widget.js",
                                         headers={"Accept-Encoding": "gzip;q=0, deflate"})
    assert "Content-Encoding" not in headers and body == plain
    status, headers, body = http_request(server, "HEAD", "/widget.js")  # the widget's check
    assert status == 200 and body == b"" and headers["ETag"] == plain_h["ETag"]


@pytest.mark.parametrize("path", ["/", "/embed.html", "/demo.css",
                                  "/article/systemic-immunomodulators-eczema"])
def test_pages_are_gzipped_and_revalidated_too(server, path):
    status, headers, packed = http_request(server, "GET", path, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip" and headers["ETag"]
    assert gzip.decompress(packed)
    status, _, body = http_request(server, "GET", path, headers={
        "Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")


def test_the_widget_sizes_in_the_docs_are_true():
    """docs/widget.md quotes the widget's size; off by more than 5% fails."""
    doc = WIDGET_DOC.read_text()
    found = re.search(r"\*\*([\d.]+) KB, ([\d.]+) KB gzipped\*\* \(([\d,]+) and ([\d,]+) bytes",
                      doc)
    assert found, "docs/widget.md: no '**N KB, N KB gzipped** (N and N bytes' line"
    body = WIDGET.read_bytes()
    real = {"raw": len(body), "gzip": len(gzip.compress(body, compresslevel=9, mtime=0))}
    quoted = {"raw": [float(found[1]) * 1024, int(found[3].replace(",", ""))],
              "gzip": [float(found[2]) * 1024, int(found[4].replace(",", ""))]}
    for kind, figures in quoted.items():
        for figure in figures:
            assert abs(figure - real[kind]) <= 0.05 * real[kind], (
                f"docs/widget.md says {figure:.0f} bytes ({kind}); web/widget.js is "
                f"{real[kind]} bytes: update the size line")
