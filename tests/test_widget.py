"""The chat widget (web/widget.js) in a real browser, against the real Procfile server.

Debian's Chromium runs headless under Playwright; browsers cannot be downloaded here, so
when no Chromium can be had these tests skip with a message, except under CI=true where
that is a failure. Chromium resolves `clinic.test` to 127.0.0.1, so a page served from
another loopback port is a genuinely foreign origin for the bot server (the server lets
localhost/127.0.0.1 through by default).
"""
from __future__ import annotations

import functools
import json
import os
import re
import signal
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect, sync_playwright

from conftest import ROOT, free_port, retire, start_server

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP clinic.test 127.0.0.1"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
REPLY_TIMEOUT = 10_000  # ms; replies take milliseconds, the browser and server may be busy


def unavailable(reason: str) -> None:
    """A missing browser part skips locally but fails CI, so CI never passes by skipping."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's chromium")
    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            unavailable(f"Chromium at {CHROMIUM} did not start: {exc.message.splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture()
def new_page(browser):
    """Pages in fresh browser contexts (own sessionStorage), closed after the test."""
    contexts = []

    def make(**options) -> Page:
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        contexts.append(context)
        context.set_default_timeout(REPLY_TIMEOUT)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture()
def page(new_page) -> Page:
    return new_page()


class Frames:
    """Every websocket frame the page sends and receives, parsed, in order."""

    def __init__(self, page: Page):
        self.sent: list[dict] = []
        self.received: list[dict] = []
        self.sockets: list[str] = []
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        self.sockets.append(ws.url)
        ws.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def reply_to(self, question: str) -> dict:
        """The server's reply frame to the (last) ask frame with this text."""
        ids = [f["id"] for f in self.sent if f.get("type") == "ask" and f["text"] == question]
        assert ids, f"no ask frame was sent for {question!r}: {self.sent}"
        replies = [f for f in self.received if f.get("id") == ids[-1] and f["type"] == "reply"]
        assert replies, f"no reply frame for {question!r}: {self.received}"
        return replies[-1]


@pytest.fixture(scope="module")
def clinic_site(tmp_path_factory):
    """A second web site on another port, as http://clinic.test:PORT, serving web/embed.html
    with its placeholder BOT-HOST replaced by a bot server's address. One for the module:
    each test writes the page it needs (`clinic_site.root` is the site's folder)."""
    root = tmp_path_factory.mktemp("clinic")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    origin = f"http://clinic.test:{httpd.server_address[1]}"

    def page_for(bot_url: str, attributes: str = "") -> str:
        """`attributes` are added to the script tag (`data-crisis-line="..."`)."""
        html = (ROOT / "web" / "embed.html").read_text()
        assert "https://BOT-HOST/widget.js" in html
        html = html.replace("https://BOT-HOST", bot_url)
        if attributes:
            html = html.replace("<script ", f"<script {attributes} ", 1)
        (root / "embed.html").write_text(html)
        return origin + "/embed.html"

    page_for.origin = origin
    page_for.root = root
    yield page_for
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def clinic_bot(clinic_site, tmp_path_factory):
    """A bot server that lets the clinic site's pages chat (ALLOWED_ORIGINS), shared by the
    tests that embed the widget there; none of them changes its settings."""
    live = start_server(tmp_path_factory.mktemp("clinic-bot"),
                        env={"ALLOWED_ORIGINS": clinic_site.origin})
    yield live
    retire(live)


# ---- helpers: what a patient does ----

def open_widget(page: Page, url: str) -> Frames:
    frames = Frames(page)
    page.goto(url)
    page.locator(".ecw-launcher").click()
    expect(page.locator(".ecw-panel")).to_be_visible()
    expect(page.locator(".ecw-kind-welcome")).to_have_count(1)
    return frames


def bot_turns(page: Page):
    return page.locator(".ecw-bot:not(.ecw-kind-welcome)")


def ask(page: Page, question: str):
    """Types a question, sends it with Enter and returns the bot's next turn."""
    before = bot_turns(page).count()
    page.locator(".ecw-input").fill(question)
    page.locator(".ecw-input").press("Enter")
    expect(bot_turns(page)).to_have_count(before + 1)
    return bot_turns(page).nth(before)


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


# ---- answers, chips, context ----

def test_answer_shows_passage_section_and_disclaimer(page, server):
    frames = open_widget(page, server.url)
    question = "can I take methotrexate pregnant"
    turn = ask(page, question)
    reply = frames.reply_to(question)
    assert reply["kind"] == "answer"
    expect(turn).to_have_attribute("data-kind", "answer")
    expect(turn.locator(".ecw-text")).to_contain_text(re.compile("pregnancy category X", re.I))
    expect(turn.locator(".ecw-source")).to_contain_text(reply["source"]["section"])
    assert reply["disclaimer"].strip()  # every reply object still carries it, for API clients
    expect(turn.locator(".ecw-disclaimer")).to_have_count(0)  # shown once, in the welcome
    expect(page.locator(".ecw-kind-welcome .ecw-disclaimer")).to_have_text(reply["disclaimer"])
    expect(page.locator(".ecw-user")).to_have_text([question])
    expect(page.locator(".ecw-typing")).to_be_hidden()
    screenshot(page, "widget-desktop.png")


def test_a_question_the_article_does_not_cover_says_so(page, server):
    frames = open_widget(page, server.url)
    question = "how much does dupixent cost"
    turn = ask(page, question)
    reply = frames.reply_to(question)
    assert reply["kind"] == "no_answer" and reply["source"] is None
    expect(turn).to_have_attribute("data-kind", "no_answer")
    expect(turn.locator(".ecw-text")).to_have_text(reply["text"])
    expect(turn.locator(".ecw-source")).to_have_count(0)  # not the nearest passage, and no source
    expect(turn.locator(".ecw-chip")).to_have_text(reply["suggestions"])
    screenshot(page, "widget-not-covered.png")


def test_bullet_lists_keep_their_line_breaks(page, server):
    frames = open_widget(page, server.url)
    question = "what are the main types of immunomodulatory drugs for eczema"
    turn = ask(page, question)
    reply = frames.reply_to(question)
    assert "\u2022" in reply["text"], reply["text"]
    rendered = turn.locator(".ecw-text").inner_text()  # innerText follows white-space: pre-line
    assert [line.strip() for line in rendered.splitlines() if line.strip()] == \
        [line.strip() for line in reply["text"].splitlines() if line.strip()]


def test_chips_send_their_question(page, server):
    frames = open_widget(page, server.url)
    welcome = next(f for f in frames.received if f["type"] == "welcome")
    chips = page.locator(".ecw-kind-welcome .ecw-chip")
    expect(chips).to_have_text(welcome["suggestions"])
    chips.first.click()
    expect(page.locator(".ecw-user")).to_have_text([welcome["suggestions"][0]])
    expect(bot_turns(page)).to_have_count(1)
    reply = frames.reply_to(welcome["suggestions"][0])
    assert reply["kind"] == "answer"
    # the answer's own suggestions are chips too, and tapping one asks it
    expect(bot_turns(page).first.locator(".ecw-chip")).to_have_text(reply["suggestions"])
    if reply["suggestions"]:
        bot_turns(page).first.locator(".ecw-chip").first.click()
        expect(page.locator(".ecw-user")).to_have_count(2)
        expect(page.locator(".ecw-user").nth(1)).to_have_text(reply["suggestions"][0])
        expect(bot_turns(page)).to_have_count(2)


def test_disclaimer_shows_once_and_opens_from_under_the_header(page, server):
    frames = open_widget(page, server.url)
    ask(page, "what are biologics")
    ask(page, "what is dupilumab")
    disclaimer = frames.reply_to("what are biologics")["disclaimer"]
    assert disclaimer.strip() and frames.reply_to("what is dupilumab")["disclaimer"] == disclaimer
    expect(page.locator(".ecw-disclaimer")).to_have_count(1)
    about = page.locator(".ecw-about")
    expect(about.locator("summary")).to_be_visible()
    expect(about.locator("p")).to_be_hidden()
    about.locator("summary").click()
    expect(about.locator("p")).to_be_visible()
    assert f"{about.locator('summary').text_content()} {about.locator('p').text_content()}" == disclaimer
    box, log = about.bounding_box(), page.locator(".ecw-log").bounding_box()
    header = page.locator(".ecw-header").bounding_box()
    assert header["y"] + header["height"] <= box["y"] and box["y"] + box["height"] <= log["y"]
    page.reload()
    expect(page.locator(".ecw-about summary")).to_have_text(about.locator("summary").text_content())


def test_bullets_have_a_hanging_indent(new_page, server):
    page = new_page(viewport={"width": 390, "height": 844})
    open_widget(page, server.url)
    turn = ask(page, "what are the side effects of dupilumab")
    items = turn.locator(".ecw-li")
    expect(items.first).to_be_visible()
    lines = items.evaluate_all("""items => items.map(item => {
        const range = document.createRange();
        range.selectNodeContents(item.lastChild);  // the item's text, after its bullet
        const starts = new Map();  // each line's top -> where its text starts (a highlight
        for (const r of range.getClientRects()) {  // inside a line is a box of its own)
            const top = Math.round(r.top), left = Math.round(r.left);
            starts.set(top, Math.min(starts.get(top) ?? left, left));
        }
        return {mark: item.firstChild.getBoundingClientRect().left,
                lines: [...new Set(starts.values())], count: starts.size};
    })""")
    wrapped = [item for item in lines if item["count"] > 1]
    assert wrapped, f"no bullet wraps at this width: {lines}"
    for item in wrapped:
        assert len(item["lines"]) == 1, item  # every line starts where the first line's text does
        assert item["mark"] < item["lines"][0], item  # ... to the right of the bullet


def test_launcher_icon_shows_whether_the_panel_is_open(page, server):
    open_widget(page, server.url)
    launcher = page.locator(".ecw-launcher")
    expect(launcher.locator(".ecw-icon-close")).to_be_visible()
    expect(launcher.locator(".ecw-icon-chat")).to_be_hidden()
    launcher.click()
    expect(page.locator(".ecw-panel")).to_be_hidden()
    expect(launcher.locator(".ecw-icon-chat")).to_be_visible()
    expect(launcher.locator(".ecw-icon-close")).to_be_hidden()


def test_phone_opening_leaves_the_keyboard_down(new_page, server):
    page = new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page.goto(server.url)
    page.locator(".ecw-launcher").tap()
    expect(page.locator(".ecw-kind-welcome")).to_be_visible()
    expect(page.locator(".ecw-input")).not_to_be_focused()
    expect(page.locator(".ecw-log")).to_be_focused()  # focus is still inside the dialog
    page.locator(".ecw-input").tap()
    expect(page.locator(".ecw-input")).to_be_focused()


@pytest.mark.parametrize("first, follow_up, expected", [
    ("what is dupilumab", "what are the side effects?", "conjunctivitis"),
])
def test_follow_up_uses_the_conversation(page, server, first, follow_up, expected):
    open_widget(page, server.url)
    ask(page, first)
    turn = ask(page, follow_up)
    expect(turn.locator(".ecw-text")).to_contain_text(re.compile(expected, re.I))


@pytest.mark.parametrize("question, kind, number", [
    ("I can't breathe and my throat is swelling", "emergency", "911"),
    ("i want to kill myself", "crisis", "988"),
])
def test_urgent_replies_stand_out_with_tel_links(page, server, question, kind, number):
    frames = open_widget(page, server.url)
    normal = ask(page, "what are biologics")
    turn = ask(page, question)
    assert frames.reply_to(question)["kind"] == kind
    expect(turn).to_have_attribute("data-kind", kind)
    expect(turn.locator(".ecw-safety")).to_have_attribute("role", "alert")
    link = turn.locator(f'a[href="tel:{number}"]')
    expect(link.first).to_be_visible()
    expect(link.first).to_have_text(re.compile(re.escape(number)))

    def look(locator) -> tuple:
        return locator.evaluate("e => { const s = getComputedStyle(e);"
                                " return [s.backgroundColor, s.borderLeftWidth, s.borderLeftColor]; }")
    assert look(turn) != look(normal)
    screenshot(page, f"widget-{kind}.png")


# ---- the safety notice ----

def links_of(locator) -> list[tuple[str, str]]:
    pairs = locator.locator("a").evaluate_all("as => as.map(a => [a.getAttribute('href'), a.textContent])")
    return [tuple(pair) for pair in pairs]


@pytest.mark.parametrize("question, kind, hrefs", [
    ("i want to kill myself", "crisis", ["tel:988", "sms:988"]),
    ("I can't breathe and my throat is swelling", "emergency", ["tel:911"]),
])
def test_sure_crisis_and_emergency_show_the_safety_notice_first(page, server, question, kind, hrefs):
    frames = open_widget(page, server.url)
    turn = ask(page, question)
    reply = frames.reply_to(question)
    assert reply["kind"] == kind
    notice = turn.locator(".ecw-safety")
    expect(notice).to_have_count(1)
    expect(notice).to_have_attribute("role", "alert")
    expect(notice).to_have_attribute("data-level", kind)
    # not colour alone: a heading that names it, with a sign
    expect(notice.locator(".ecw-safety-label")).to_contain_text("help", ignore_case=True)
    expect(notice.locator(".ecw-safety-icon")).not_to_be_empty()
    if reply.get("safety"):  # the engine's notice; a server without "safety" gets the widget's own
        assert reply["safety"]["level"] == kind
        expect(notice.locator(".ecw-safety-text")).to_have_text(reply["safety"]["text"])
        assert [link["href"] for link in reply["safety"]["links"]] == hrefs
    assert [href for href, _ in links_of(notice)] == hrefs
    # a disclaimer of the reply's own (not the usual one, shown once in the welcome) is shown
    usual = next(f for f in frames.received if f["type"] == "welcome")["disclaimer"]
    expect(turn.locator(".ecw-disclaimer")).to_have_count(0 if reply["disclaimer"] == usual else 1)
    for link in notice.locator("a").all():
        expect(link).to_be_visible()
        assert link.bounding_box()["height"] >= 44  # a button a thumb can hit
    # first: above the reply's own text
    assert turn.evaluate("e => e.firstElementChild.classList.contains('ecw-safety')")
    box, text = notice.bounding_box(), turn.locator(".ecw-text").bounding_box()
    assert box["y"] + box["height"] <= text["y"]
    # white on the notice's dark background
    expect(notice).to_have_css("color", "rgb(255, 255, 255)")
    screenshot(page, f"widget-safety-{kind}.png")
    # kept with the transcript
    page.reload()
    expect(bot_turns(page).last.locator(".ecw-safety a")).to_have_count(len(hrefs))


def with_safety(page: Page, safety: dict) -> None:
    """Routes the page's websocket through to the real server, adding `safety` to every reply
    (the engine's 'doubtful' case, on an ordinary answer)."""
    def route(ws):
        server = ws.connect_to_server()

        def from_server(message):
            frame = json.loads(message)
            if frame.get("type") == "reply":
                frame["safety"] = safety
            ws.send(json.dumps(frame))
        server.on_message(from_server)
    page.route_web_socket(re.compile(r"/ws$"), route)


def test_safety_notice_is_text_never_html(page, server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    safety = {"level": "crisis",
              "text": "<b>Please</b> talk to someone <img src=x onerror=alert(1)>",
              "links": [{"label": "<i>Call</i> 988", "href": "tel:988"},
                        {"label": "Run", "href": "javascript:alert(1)"},
                        {"label": "Visit", "href": "https://example.com/"},
                        {"label": "Sneaky", "href": "tel:988\" onclick=\"alert(1)"},
                        {"label": "Text 988", "href": "sms:988"}]}
    with_safety(page, safety)
    page.goto(server.url)
    page.locator(".ecw-launcher").click()
    expect(page.locator(".ecw-kind-welcome")).to_have_count(1)
    turn = ask(page, "what are biologics")
    expect(turn).to_have_attribute("data-kind", "answer")  # an ordinary answer, with a notice on top
    notice = turn.locator(".ecw-safety")
    expect(notice.locator(".ecw-safety-text")).to_have_text(safety["text"])
    assert notice.locator("b, i, img").count() == 0
    assert page.locator(".ecw-log img").count() == 0
    # only tel: and sms: links are made; the others are dropped
    assert links_of(notice) == [("tel:988", "<i>Call</i> 988"), ("sms:988", "Text 988")]
    assert turn.evaluate("e => e.firstElementChild.classList.contains('ecw-safety')")
    expect(turn.locator(".ecw-text")).to_contain_text("biologic", ignore_case=True)
    page.reload()
    notice = bot_turns(page).last.locator(".ecw-safety")
    expect(notice.locator(".ecw-safety-text")).to_have_text(safety["text"])
    assert notice.locator("b, i, img").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


# ---- highlights, the article link, saving ----

def marks_of(turn) -> list[str]:
    """The exact text of each highlight mark in a turn, in order."""
    return turn.locator("mark.ecw-hl").evaluate_all("ms => ms.map(m => m.textContent)")


def test_the_bullet_that_answers_is_marked_and_the_text_is_unchanged(page, server):
    frames = open_widget(page, server.url)
    question = "does rinvoq cause acne"
    turn = ask(page, question)
    reply = frames.reply_to(question)
    assert reply["kind"] == "answer" and reply["highlights"], reply
    spans = [reply["text"][start:end] for start, end in reply["highlights"]]
    assert spans == ["• acne"]
    assert marks_of(turn) == spans
    # marked, not rewritten: every character of the passage, in order
    assert turn.locator(".ecw-text").text_content() == reply["text"]
    # not colour alone: the mark is bold as well
    assert int(turn.locator("mark.ecw-hl").evaluate("m => getComputedStyle(m).fontWeight")) >= 600
    # the rest of the list is not marked
    expect(turn.locator(".ecw-li", has_text="headaches").locator("mark")).to_have_count(0)
    screenshot(page, "widget-highlight.png")
    page.reload()
    assert marks_of(bot_turns(page).last) == spans  # kept with the transcript


def test_the_source_links_to_the_article_page_in_a_new_tab(page, server):
    frames = open_widget(page, server.url)
    turn = ask(page, "does rinvoq cause acne")
    source = frames.reply_to("does rinvoq cause acne")["source"]
    assert source["url"].startswith("/article/")
    link = turn.locator(".ecw-source a")
    expect(link).to_have_attribute("href", server.url + source["url"])
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener")
    expect(link).to_contain_text(source["section"])
    with page.expect_popup() as popup:  # a new tab, which cannot reach back into the chat's page
        link.click()
    assert popup.value.url == server.url + source["url"]
    assert popup.value.evaluate("() => window.opener") is None


def forge_replies(page: Page, change) -> None:
    """Routes the page's websocket to the real server, passing each reply frame through
    `change(frame)` before the widget sees it."""
    def route(ws):
        server = ws.connect_to_server()

        def from_server(message):
            frame = json.loads(message)
            if frame.get("type") == "reply":
                change(frame)
            ws.send(json.dumps(frame))
        server.on_message(from_server)
    page.route_web_socket(re.compile(r"/ws$"), route)


FORGED_TEXT = "<b>Bold?</b> \U0001F600 first part. <img src=x onerror=alert(1)> second part.\n• <i>third</i>"


def test_a_forged_reply_shows_its_text_literally_and_marks_only_good_spans(page, server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    good = [FORGED_TEXT.index("<img"), FORGED_TEXT.index(" second part.") + len(" second part.")]
    bullet = [FORGED_TEXT.index("•"), len(FORGED_TEXT)]
    bad = [[-1, 3], [5, len(FORGED_TEXT) + 1], [1.5, 4], ["0", "3"], [9, 4], [7, 7], [0], [1, 2, 3],
           "0-3", None, [True, 3], [good[0] + 2, good[1] + 2]]  # the last overlaps `good`

    def change(frame):
        frame.update(text=FORGED_TEXT, highlights=[bullet, *bad, good],
                     source={**frame["source"], "url": "//evil.example/article"})
    forge_replies(page, change)
    open_widget(page, server.url)
    turn = ask(page, "does rinvoq cause acne")
    # offsets count code points (the emoji is one), as in the engine's Python strings
    assert marks_of(turn) == ["<img src=x onerror=alert(1)> second part.", "• <i>third</i>"]
    assert turn.locator(".ecw-text").text_content() == FORGED_TEXT
    assert page.locator(".ecw-log img, .ecw-log b, .ecw-log i").count() == 0
    expect(turn.locator(".ecw-source")).to_be_visible()
    expect(turn.locator(".ecw-source a")).to_have_count(0)  # another host: no link
    page.wait_for_timeout(300)
    assert dialogs == []


@pytest.mark.parametrize("url", ["https://evil.example/article", "javascript:alert(1)",
                                 "/\\evil.example/article", "article/x", 42])
def test_a_source_url_that_is_not_a_path_on_the_server_gets_no_link(page, server, url):
    forge_replies(page, lambda frame: frame["source"].update(url=url))
    open_widget(page, server.url)
    turn = ask(page, "what are biologics")
    expect(turn.locator(".ecw-source cite")).to_be_visible()
    expect(turn.locator(".ecw-source a")).to_have_count(0)


def test_save_chat_makes_the_transcript_in_the_browser(page, server):
    frames = open_widget(page, server.url)
    questions = ["does rinvoq cause acne", "what are biologics", "I can't breathe and my throat is swelling"]
    for question in questions:
        ask(page, question)
    storage = page.evaluate("() => [JSON.stringify(sessionStorage), localStorage.length, document.cookie]")
    sent = len(frames.sent)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    with page.expect_download() as download:
        page.get_by_role("button", name="Save chat").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".txt")
    for question in questions:
        reply = frames.reply_to(question)
        assert f"You: {question}" in saved
        assert reply["text"] in saved
        if reply["source"]:
            assert reply["source"]["title"] in saved and reply["source"]["section"] in saved
            assert server.url + reply["source"]["url"] in saved
        if reply.get("safety"):
            assert reply["safety"]["text"] in saved
    assert saved.index(questions[0]) < saved.index(questions[1]) < saved.index(questions[2])
    page.wait_for_timeout(300)
    # made here: no request (the file is a blob: URL), no frame, nothing stored
    assert [url for url in requests if not url.startswith("blob:")] == []
    assert len(frames.sent) == sent
    assert page.evaluate("() => [JSON.stringify(sessionStorage), localStorage.length, document.cookie]") == storage


# A clinic's page that forbids every style but its own files: no <style>, no style="".
STRICT_CSP = "default-src 'none'; style-src 'self'; script-src {bot}; connect-src {bot} {ws}"

# Run as window.print: what the printout holds, and what shows, at the moment of printing.
PRINT_SNAPSHOT = """() => {
    window.__prints = [];
    window.print = () => {
        const box = document.getElementById('eczema-chat-print');
        const chat = document.getElementById('eczema-chat-widget').shadowRoot;
        const root = box && box.shadowRoot;
        const text = (e, sel) => { const f = e.querySelector(sel); return f ? f.textContent : null; };
        window.__prints.push(root && {
            count: document.querySelectorAll('#eczema-chat-print').length,
            text: root.textContent,
            lines: root.querySelector('.ecw-printout').innerText.split('\\n').filter(l => l.trim()),
            turns: [...root.querySelectorAll('section')].map(s => ({
                who: text(s, 'h2'), text: text(s, '.ecw-print-text'),
                alert: text(s, '.ecw-print-alert'), source: text(s, '.ecw-print-source')})),
            disclaimer: text(root, '.ecw-print-disclaimer'),
            last: root.querySelector('.ecw-printout').lastElementChild.className,
            controls: root.querySelectorAll('button, input, textarea, form, a, mark, .ecw-chip').length,
            frame: [...root.querySelectorAll('.ecw-print-alert')].map(
                a => parseFloat(getComputedStyle(a).borderTopWidth)),
            shown: {printout: root.querySelector('.ecw-printout').checkVisibility(),
                    panel: chat.querySelector('.ecw-panel').checkVisibility(),
                    launcher: chat.querySelector('.ecw-launcher').checkVisibility(),
                    page: [...document.body.children].filter(e => e !== box && e.tagName !== 'SCRIPT')
                        .some(e => e.checkVisibility())}});
    };
}"""


@pytest.mark.parametrize("site", ["demo-page", "strict-csp"])
def test_print_shows_only_the_transcript_with_its_sources(page, server, site, request):
    url = bot_url = server.url
    violations = []
    if site == "strict-csp":  # a clinic's page: the printout's styles must not need 'unsafe-inline'
        clinic_site = request.getfixturevalue("clinic_site")
        bot = request.getfixturevalue("clinic_bot")
        url, bot_url = clinic_site(bot.url), bot.url
        html = clinic_site.root / "embed.html"
        csp = STRICT_CSP.format(bot=bot.url, ws=bot.ws_url)
        html.write_text(html.read_text().replace(
            "<head>", f'<head><meta http-equiv="Content-Security-Policy" content="{csp}">', 1))
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    frames = open_widget(page, url)
    questions = ["does rinvoq cause acne", "I can't breathe and my throat is swelling"]
    for question in questions:
        ask(page, question)
    welcome = next(f for f in frames.received if f["type"] == "welcome")
    page.evaluate(PRINT_SNAPSHOT)
    sheets = page.evaluate("() => [document.adoptedStyleSheets.length, document.styleSheets.length]")
    storage = page.evaluate("() => [JSON.stringify(sessionStorage), localStorage.length, document.cookie]")
    sent, requests = len(frames.sent), []
    page.on("request", lambda request: requests.append(request.url))

    # a labelled button beside Save chat, reached with Tab and pressed with Enter
    button = page.get_by_role("button", name="Print", exact=True)
    expect(button).to_be_visible()
    page.get_by_role("button", name="Save chat").focus()
    page.keyboard.press("Tab")
    expect(button).to_be_focused()
    page.emulate_media(media="print")
    page.keyboard.press("Enter")
    prints = page.evaluate("() => window.__prints")
    assert len(prints) == 1 and prints[0], f"window.print was not called with a printout: {prints}"
    printed = prints[0]
    assert printed["count"] == 1

    # while printing: the printout alone, not the chat panel, its button or the page
    assert printed["shown"] == {"printout": True, "panel": False, "launcher": False, "page": False}
    # a heading: the widget's title and when it was printed
    assert printed["lines"][0] == "Ask about eczema medicines"
    assert printed["lines"][1].startswith("Printed ")
    # each turn labelled, the answer's text and its source with the address written out
    turns = printed["turns"]
    assert turns[0]["who"] == "Chat"
    assert turns[0]["text"] == page.locator(".ecw-kind-welcome .ecw-text").text_content()
    assert [t["who"] for t in turns] == ["Chat", "You", "Chat", "You", "Chat"]
    for n, question in enumerate(questions):
        asked, answered, reply = turns[1 + 2 * n], turns[2 + 2 * n], frames.reply_to(question)
        assert asked["text"] == question
        assert answered["text"] == reply["text"]
        if reply["source"]:
            assert reply["source"]["section"] in answered["source"]
            assert reply["source"]["title"] in answered["source"]
            assert answered["source"].endswith(bot_url + reply["source"]["url"])
        if reply.get("safety"):  # the notice, in words, above the text
            assert answered["alert"].startswith("\u26a0 Emergency \u2014 get help now")
            assert reply["safety"]["text"] in answered["alert"]
            assert "tel:911" in answered["alert"]
        else:
            assert answered["alert"] is None
    assert frames.reply_to(questions[1]).get("safety"), "the emergency reply had no safety notice"
    assert printed["frame"] and min(printed["frame"]) >= 3  # framed, not coloured: print drops backgrounds
    # the disclaimer once, at the end
    assert printed["disclaimer"] == welcome["disclaimer"]
    assert printed["text"].count(welcome["disclaimer"]) == 1 and printed["last"] == "ecw-print-disclaimer"
    # no chips, buttons, links, input or marks
    assert printed["controls"] == 0
    for word in ["Save chat", "New chat", "Send", "Your question", *welcome["suggestions"]]:
        assert word not in printed["text"], word

    # print media shows the printout and hides the chat; the screen is as it was
    printout = page.locator("#eczema-chat-print .ecw-printout")
    expect(printout).to_be_visible()
    expect(page.locator(".ecw-panel")).to_be_hidden()
    expect(page.locator("main")).to_be_hidden()
    page.emulate_media(media="screen")
    expect(printout).to_be_hidden()
    expect(page.locator(".ecw-panel")).to_be_visible()
    expect(page.locator("main")).to_be_visible()
    # once printed, the printout and its styles leave the page
    page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    expect(page.locator("#eczema-chat-print")).to_have_count(0)
    assert page.evaluate("() => [document.adoptedStyleSheets.length, document.styleSheets.length]") == sheets

    # made here: no request, no frame, nothing stored; nothing blocked by the page's CSP
    page.wait_for_timeout(300)
    assert requests == []
    assert len(frames.sent) == sent
    assert page.evaluate("() => [JSON.stringify(sessionStorage), localStorage.length, document.cookie]") == storage
    assert violations == []


@pytest.mark.parametrize("viewport", [DESKTOP, {"width": 375, "height": 667}], ids=["desktop", "phone"])
def test_title_fits_on_one_line_and_the_welcome_starts_in_view(new_page, server, viewport):
    page = new_page(viewport=viewport)
    open_widget(page, server.url)

    def settled():
        page.locator(".ecw-panel").evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")

    def check():
        settled()
        title = page.locator(".ecw-title")
        lines = title.evaluate("""t => { const r = document.createRange(); r.selectNodeContents(t);
            return new Set([...r.getClientRects()].map(c => Math.round(c.top))).size; }""")
        assert lines == 1, "the title wraps"
        header = page.locator(".ecw-header").bounding_box()
        log = page.locator(".ecw-log").bounding_box()
        welcome = page.locator(".ecw-kind-welcome").bounding_box()
        assert header["y"] + header["height"] <= log["y"]
        assert welcome["y"] >= log["y"], (welcome, log)  # its top is not cut off
        assert welcome["y"] < log["y"] + log["height"]

    check()
    page.locator(".ecw-close").click()
    page.locator(".ecw-launcher").click()
    check()
    page.reload()  # reopened from the saved state
    expect(page.locator(".ecw-kind-welcome")).to_be_visible()
    check()


def test_unreachable_server_still_shows_the_emergency_numbers(page, clinic_site):
    """Nothing listens on the bot's port (widget.js is served from a copy): the numbers come from
    the script tag, so they show without the server."""
    closed = f"http://127.0.0.1:{free_port()}"
    widget = (ROOT / "web" / "widget.js").read_text()

    def script_only(route):
        if route.request.method == "GET":
            route.fulfill(body=widget, content_type="text/javascript")
        else:  # the widget's check whether the server is up
            route.abort()
    page.route(f"{closed}/widget.js", script_only)
    page.goto(clinic_site(closed, 'data-emergency-number="112" data-crisis-line="116 123"'))
    page.locator(".ecw-launcher").click()
    help_now = page.locator(".ecw-help")
    expect(help_now).to_be_visible()
    expect(page.locator(".ecw-status")).to_contain_text("Reconnecting")
    assert links_of(help_now) == [("tel:112", "Call 112"), ("tel:116123", "Call 116 123"),
                                  ("sms:116123", "Text 116 123")]
    expect(help_now).to_contain_text("call 112")
    for link in help_now.locator("a").all():
        assert link.bounding_box()["height"] >= 44


def test_question_with_html_shows_as_text(page, server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_widget(page, server.url)
    payload = "<img src=x onerror=alert(1)>"
    ask(page, payload)
    expect(page.locator(".ecw-user")).to_have_text([payload])
    assert page.locator(".ecw-log img").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_errors_are_shown_politely(page, server):
    """More than 20 messages in 10 s: the server refuses the extra ones and the widget says why."""
    frames = open_widget(page, server.url)
    box = page.locator(".ecw-input")
    for n in range(23):
        box.fill(f"what is dupilumab {n}")
        box.press("Enter")
    expect(page.locator(".ecw-notice").first).to_contain_text("sending messages very quickly")
    expect(page.locator(".ecw-typing")).to_be_hidden()  # refused questions are not left waiting
    assert any(f.get("code") == "rate_limited" for f in frames.received)


# ---- the conversation outlives pages, connections and the new-chat button ----

def test_transcript_and_context_survive_navigation(page, server):
    open_widget(page, server.url)
    ask(page, "what is dupilumab")
    page.get_by_role("link", name="Eczema care").click()
    page.wait_for_url("**/?page=eczema")
    expect(page.locator(".ecw-panel")).to_be_visible()
    expect(page.locator(".ecw-user")).to_have_text(["what is dupilumab"])
    expect(bot_turns(page)).to_have_count(1)
    turn = ask(page, "what are the side effects?")
    expect(turn.locator(".ecw-text")).to_contain_text(re.compile("conjunctivitis", re.I))


def test_new_chat_clears_transcript_and_context(page, server):
    frames = open_widget(page, server.url)
    ask(page, "what is dupilumab")
    page.get_by_role("button", name="New chat").click()
    expect(page.locator(".ecw-user")).to_have_count(0)
    expect(bot_turns(page)).to_have_count(0)
    expect(page.locator(".ecw-kind-welcome")).to_have_count(1)
    expect(page.locator(".ecw-input")).to_be_focused()
    assert {"type": "reset"} in frames.sent
    page.reload()
    expect(page.locator(".ecw-user")).to_have_count(0)


def test_chat_recovers_after_server_restart(page, server_factory):
    live = server_factory()
    open_widget(page, live.url)
    ask(page, "what are biologics")
    # SIGINT is gunicorn's quick shutdown: open websockets drop at once, as in a crash or a
    # redeploy (SIGTERM would wait graceful_timeout for the idle chat to end).
    os.killpg(live.proc.pid, signal.SIGINT)
    live.proc.wait(15)
    status = page.locator(".ecw-status")
    expect(status).to_contain_text("Reconnecting")
    # asked while the server is down: the widget holds it and sends it once it is back
    page.locator(".ecw-input").fill("what is dupilumab")
    page.locator(".ecw-input").press("Enter")
    expect(page.locator(".ecw-typing")).to_be_visible()
    server_factory(port=live.port)
    expect(bot_turns(page)).to_have_count(2, timeout=30_000)
    expect(bot_turns(page).nth(1)).to_have_attribute("data-kind", "answer")
    expect(bot_turns(page).nth(1).locator(".ecw-text")).to_contain_text(re.compile("dupilumab", re.I))
    expect(status).to_be_empty()
    expect(page.locator(".ecw-user")).to_have_text(["what are biologics", "what is dupilumab"])


def test_question_asked_while_down_stays_in_view(new_page, server_factory):
    page = new_page(viewport={"width": 390, "height": 700})
    live = server_factory()
    open_widget(page, live.url)
    ask(page, "what are the side effects of JAK inhibitors")
    ask(page, "what are the side effects of the older drugs")
    os.killpg(live.proc.pid, signal.SIGINT)
    live.proc.wait(15)
    expect(page.locator(".ecw-status")).to_contain_text("Reconnecting")
    page.locator(".ecw-input").fill("what is dupilumab")
    page.locator(".ecw-input").press("Enter")
    expect(page.locator(".ecw-typing")).to_be_visible()
    page.wait_for_timeout(500)  # the rows around the log have settled
    question = page.locator(".ecw-user").last
    expect(question).to_have_text("what is dupilumab")
    q, log = question.bounding_box(), page.locator(".ecw-log").bounding_box()
    assert log["y"] <= q["y"] and q["y"] + q["height"] <= log["y"] + log["height"], (q, log)


# ---- embedding on other sites ----

def test_page_on_another_origin_embeds_and_chats(page, clinic_bot, clinic_site):
    bot = clinic_bot
    url = clinic_site(bot.url)
    frames = open_widget(page, url)
    assert frames.sockets == [bot.ws_url]
    expect(page.locator(".ecw-title")).to_have_text("Ask about eczema medicines")
    expect(page.locator(".ecw-kind-welcome .ecw-text")).to_have_text(
        "Hello! I answer questions about eczema medicines from a dermatologist's article.")
    expect(page.locator(".ecw-header")).to_have_css("background-color", "rgb(122, 31, 92)")
    expect(page.locator(".ecw-footer a")).to_have_attribute("href", "tel:5550100")
    turn = ask(page, "what are biologics")
    expect(turn).to_have_attribute("data-kind", "answer")


def test_a_server_back_between_two_checks_is_not_taken_for_a_refusal(page, server_factory):
    """After a failed connection the widget checks whether the server refuses this site. A
    server that comes back in the middle of those checks (a restart) must not read as one."""
    live = server_factory()
    open_widget(page, live.url)
    ask(page, "what are biologics")
    restarted = []

    def back_up_now(route):
        if route.request.method == "HEAD" and not restarted:
            restarted.append(server_factory(port=live.port))
        route.continue_()

    page.route("**/widget.js", back_up_now)
    os.killpg(live.proc.pid, signal.SIGINT)
    live.proc.wait(15)
    page.locator(".ecw-input").fill("what is dupilumab")
    page.locator(".ecw-input").press("Enter")
    expect(bot_turns(page)).to_have_count(2, timeout=30_000)
    assert restarted, "the widget never checked the server"
    expect(page.locator(".ecw-unavailable")).to_have_count(0)


def test_refused_origin_shows_unavailable_and_stops(page, server, clinic_site):
    frames = Frames(page)
    page.goto(clinic_site(server.url))  # `server` allows only its own and local origins
    page.locator(".ecw-launcher").click()
    expect(page.locator(".ecw-panel")).to_contain_text("Chat is not available on this site")
    expect(page.locator(".ecw-input")).to_be_disabled()
    # the clinic's number and the emergency numbers (defaults: 911, 988) are links
    assert links_of(page.locator(".ecw-unavailable")) == [
        ("tel:5550100", "555-0100"), ("tel:911", "Call 911"), ("tel:988", "Call 988"),
        ("sms:988", "Text 988")]
    expect(page.locator(".ecw-help")).to_be_hidden()  # the notice has them; not twice
    attempts = len(frames.sockets)
    assert attempts >= 1
    page.wait_for_timeout(1500)  # a retry comes within 0.5 s of a failed check (widget.js)
    assert len(frames.sockets) == attempts, "the widget kept retrying a refused origin"
    assert "refused_origin" in server.log()


# ---- accessibility, keyboard, phones, zoom, motion ----

def test_axe_finds_no_violations_in_the_open_widget(new_page, server):
    if not AXE.exists():
        unavailable(f"axe-core is missing at {AXE}: `make browser` installs it from npm")
    page = new_page(bypass_csp=True)  # the demo page's CSP forbids the injected axe script
    open_widget(page, server.url)
    ask(page, "what are biologics")
    ask(page, "I can't breathe and my throat is swelling")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    violations = [(v["id"], v["help"], [(n["target"], n["failureSummary"]) for n in v["nodes"]])
                  for v in result["violations"]]
    assert violations == []


def test_keyboard_alone_opens_asks_taps_and_closes(page, server):
    page.goto(server.url)
    focused = ("() => { const h = document.activeElement;"
               " return h && h.shadowRoot && h.shadowRoot.activeElement"
               " ? h.shadowRoot.activeElement.className : (h ? h.tagName : ''); }")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate(focused) == "ecw-launcher":
            break
    assert page.evaluate(focused) == "ecw-launcher"
    page.keyboard.press("Enter")
    expect(page.locator(".ecw-panel")).to_be_visible()
    expect(page.locator(".ecw-input")).to_be_focused()
    page.keyboard.type("what are biologics")
    page.keyboard.press("Enter")
    expect(bot_turns(page)).to_have_count(1)
    page.keyboard.press("Shift+Tab")  # from the input back to the last chip
    assert page.evaluate(focused) == "ecw-chip"
    chip_text = page.evaluate("() => document.activeElement.shadowRoot.activeElement.textContent")
    page.keyboard.press("Enter")
    expect(page.locator(".ecw-user").nth(1)).to_have_text(chip_text)
    expect(bot_turns(page)).to_have_count(2)
    page.keyboard.press("Escape")
    expect(page.locator(".ecw-panel")).to_be_hidden()
    assert page.evaluate(focused) == "ecw-launcher"
    expect(page.locator(".ecw-launcher")).to_have_attribute("aria-expanded", "false")


def test_screen_readers_get_labels_and_a_live_log(page, server):
    open_widget(page, server.url)
    expect(page.locator(".ecw-log")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("dialog", name="Ask about eczema medicines")).to_be_visible()
    expect(page.get_by_role("textbox", name="Your question")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Close chat", exact=True)).to_be_visible()
    turn = ask(page, "what are biologics")
    assert turn.evaluate("e => e.parentElement.getAttribute('role')") == "log"


@pytest.mark.parametrize("viewport, scale, shot", [
    ({"width": 390, "height": 844}, 2, "widget-phone.png"),   # a phone
    ({"width": 640, "height": 400}, 2, None),                  # a 1280x800 screen at 200% zoom
], ids=["phone", "zoom-200"])
def test_small_screens_get_a_full_screen_panel(new_page, server, viewport, scale, shot):
    page = new_page(viewport=viewport, device_scale_factor=scale, has_touch=True)
    open_widget(page, server.url)
    ask(page, "can I take methotrexate pregnant")
    page.locator(".ecw-panel").evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")
    box = page.locator(".ecw-panel").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == \
        (0, 0, viewport["width"], viewport["height"])
    for control in (".ecw-input", ".ecw-send", ".ecw-close", ".ecw-new"):
        b = page.locator(control).bounding_box()
        assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= viewport["width"] \
            and b["y"] + b["height"] <= viewport["height"], control
    if shot:
        screenshot(page, shot)


@pytest.mark.parametrize("motion, animation", [("reduce", "none"), ("no-preference", "ecw-in")])
def test_respects_reduced_motion(new_page, server, motion, animation):
    page = new_page(reduced_motion=motion)
    open_widget(page, server.url)
    expect(page.locator(".ecw-panel")).to_have_css("animation-name", animation)
    expect(page.locator(".ecw-dot").first).to_have_css(
        "animation-name", "none" if motion == "reduce" else "ecw-bounce")


def test_host_page_css_cannot_reach_inside(page, server):
    open_widget(page, server.url)
    page.add_style_tag(content="* { color: rgb(255, 0, 0) !important; font-size: 40px !important }")
    expect(page.locator(".ecw-input")).to_have_css("font-size", "16px")
    expect(page.locator(".ecw-kind-welcome .ecw-text")).not_to_have_css("color", "rgb(255, 0, 0)")


# ---- what a patient notices next to other chat messengers (docs/widget-comparison.md) ----

def hold_replies(page: Page):
    """Routes the page's websocket to the real server but holds its reply frames back until
    `release()` is called, so a reply can arrive while the panel is shut."""
    held: list[str] = []
    sockets = []

    def route(ws):
        sockets.append(ws)
        server = ws.connect_to_server()

        def from_server(message):
            if json.loads(message).get("type") == "reply":
                held.append(message)
            else:
                ws.send(message)
        server.on_message(from_server)
    page.route_web_socket(re.compile(r"/ws$"), route)

    def release():
        while held:
            sockets[-1].send(held.pop(0))
    return held, release


def test_a_reply_that_arrives_while_shut_shows_on_the_chat_button(page, server):
    held, release = hold_replies(page)
    open_widget(page, server.url)
    launcher, badge = page.locator(".ecw-launcher"), page.locator(".ecw-badge")
    expect(badge).to_be_hidden()
    page.locator(".ecw-input").fill("what is dupilumab")
    page.locator(".ecw-input").press("Enter")
    page.keyboard.press("Escape")  # the patient shuts the panel before the answer comes
    expect(page.locator(".ecw-panel")).to_be_hidden()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the server never replied"
    expect(badge).to_be_hidden()
    release()
    expect(badge).to_be_visible()
    expect(badge).to_have_text("1")
    expect(badge).to_have_attribute("aria-hidden", "true")  # the button's name says it instead
    expect(launcher).to_have_attribute(
        "aria-label", "Open chat: Ask about eczema medicines (1 new reply)")
    expect(page.locator(".ecw-unread")).to_have_text("New reply in the chat: 1 unread.")
    expect(page.locator(".ecw-unread")).to_have_attribute("role", "status")
    # the count outlives a page navigation in the tab, like the transcript
    page.get_by_role("link", name="Eczema care").click()
    page.wait_for_url("**/?page=eczema")
    expect(badge).to_have_text("1")
    launcher.click()
    expect(page.locator(".ecw-panel")).to_be_visible()
    expect(bot_turns(page)).to_have_count(1)
    expect(badge).to_be_hidden()
    expect(launcher).to_have_attribute("aria-label", "Close chat: Ask about eczema medicines")
    expect(page.locator(".ecw-unread")).to_be_empty()
    # a reply that comes while the panel is open is seen, so it leaves no count behind
    page.locator(".ecw-input").fill("what are biologics")
    page.locator(".ecw-input").press("Enter")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    release()
    expect(bot_turns(page)).to_have_count(2)
    page.keyboard.press("Escape")
    expect(badge).to_be_hidden()
    expect(launcher).to_have_attribute("aria-label", "Open chat: Ask about eczema medicines")


def test_scrolling_past_the_conversation_does_not_scroll_the_page(page, server):
    open_widget(page, server.url)
    ask(page, "what are biologics")
    page.evaluate("() => { document.body.style.minHeight = '3000px'; window.scrollTo(0, 0); }")
    log = page.locator(".ecw-log")
    expect(log).to_have_css("overscroll-behavior-y", "contain")
    box = log.bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    for _ in range(8):  # well past the end of the conversation
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(40)
    page.wait_for_timeout(500)
    at_end = log.evaluate("e => e.scrollHeight - e.scrollTop - e.clientHeight < 2")
    assert at_end, "the wheel did not scroll the conversation"
    assert page.evaluate("() => window.scrollY") == 0, "the page behind the chat scrolled"


def test_the_box_grows_with_a_story_and_enter_sends_it(page, server):
    """A patient who tells their story first sees it as they write it: the box grows (up to
    about five lines, then scrolls), Shift+Enter starts a new line, Enter sends, and the box
    is back to one line for the next question."""
    frames = open_widget(page, server.url)
    box = page.locator(".ecw-input")
    one_line = box.bounding_box()["height"]
    box.fill("I have had eczema since I was a baby. " * 6)
    grown = box.bounding_box()["height"]
    assert grown > 1.5 * one_line
    box.fill("I have had eczema since I was a baby. " * 60)
    assert box.bounding_box()["height"] < 7 * one_line  # capped: it scrolls
    box.fill("My story.")
    box.press("Shift+Enter")
    box.press_sequentially("Is dupixent a biologic?")
    assert box.input_value() == "My story.\nIs dupixent a biologic?"
    assert not [f for f in frames.sent if f.get("type") == "ask"]
    box.press("Enter")
    expect(page.locator(".ecw-user")).to_have_count(1)
    expect(box).to_have_value("")
    assert abs(box.bounding_box()["height"] - one_line) < 1
    assert [f["text"] for f in frames.sent if f.get("type") == "ask"] == \
        ["My story.\nIs dupixent a biologic?"]


def test_a_story_longer_than_the_box_takes_is_cut_with_a_word(page, server):
    """The box takes 2,000 characters; a longer text pasted in is cut there by the browser, and
    the widget says so rather than sending a story without its end unannounced."""
    open_widget(page, server.url)
    box, limit = page.locator(".ecw-input"), page.locator(".ecw-limit")
    expect(limit).to_be_hidden()
    box.fill("x" * 2100)
    assert len(box.input_value()) == 2000
    expect(limit).to_be_visible()
    expect(limit).to_contain_text("2,000 characters")
    box.fill("what is dupilumab")
    expect(limit).to_be_hidden()
    box.fill("y" * 2000)
    box.press("Enter")
    expect(limit).to_be_hidden()  # sent: the box is empty again


def test_the_box_takes_what_the_server_takes(page, server_factory):
    """An operator who lowers MAX_TEXT_CHARS lowers the box's limit too (the welcome frame
    says it), so a story the box accepts is never refused as too long."""
    live = server_factory(env={"MAX_TEXT_CHARS": "300"})
    frames = open_widget(page, live.url)
    box, limit = page.locator(".ecw-input"), page.locator(".ecw-limit")
    box.fill("x" * 400)
    assert len(box.input_value()) == 300
    expect(limit).to_be_visible()
    expect(limit).to_contain_text("300 characters")
    box.press("Enter")
    expect(bot_turns(page)).to_have_count(1)
    assert [f["text"] for f in frames.sent if f.get("type") == "ask"] == ["x" * 300]
    assert not [f for f in frames.received if f.get("type") == "error"]
