"""The built book as a reader sees it: every page of _toc.yml in headless Chromium.

For each page: it loads from the built files, every image has loaded, MathJax has typeset
every formula (no raw ``$$``, ``\\(`` or ``\\[`` left in the visible text), no JavaScript
error or failed request is logged, and every internal link points to a file that exists.
A full-page screenshot of each page is written to ``_build/screenshots/<page>.png`` (and
phone-width ones to ``_build/screenshots/phone/``) so a person can look.

The browser is Debian's ``chromium`` (``python3 dev.py test`` installs it), driven by
playwright; playwright's own browser download is never used. Without Chromium these tests
skip and say why. They test the book in ``_build/html`` (``python3 dev.py test`` builds it
first); set ``GCONV_BOOK_HTML`` to test another build, ``GCONV_CHROMIUM`` for another binary.
"""

from __future__ import annotations

import os
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

import gconv_lib

ROOT = Path(__file__).resolve().parent.parent
HTML = Path(os.environ.get("GCONV_BOOK_HTML", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = HTML.parent / "screenshots"
CHROMIUM = Path(os.environ.get("GCONV_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # a common phone's CSS width
OVERFLOW_TOLERANCE_PX = 2
MATHJAX_TIMEOUT_MS = 15_000


def toc_pages() -> list[str]:
    """Every page listed in _toc.yml (root first), as paths without suffix: 'book/intro'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", page) for page in pages]


PAGES = toc_pages()
#: Blocks that must fit the article column at DESKTOP width, named in a failure.
BLOCKS = "div.cell pre, div.highlight pre, div.cell_output > div, table, div.math, mjx-container[display]"


def built(page: str) -> Path:
    """The built HTML file of a _toc.yml page; fails (never skips) when it is missing."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built book at {HTML}: build it first (python3 dev.py book)")
    path = HTML / f"{page}.html"
    if not path.exists():
        pytest.fail(f"{page} is in _toc.yml but {path} was not built: rebuild the book")
    return path


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}, so the book was not checked in a "
                    "browser: `python3 dev.py test` installs Debian's chromium with apt-get "
                    "(needs root or sudo), or set GCONV_CHROMIUM to a Chromium binary")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser tab that records every JavaScript error, console error and failed request."""

    def __init__(self, browser, viewport: dict):
        self.context = browser.new_context(viewport=viewport)
        self.tab = self.context.new_page()
        self.tab.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.tab.on("pageerror", lambda error: self.errors.append(f"JavaScript error: {error}"))
        self.tab.on("console", lambda message: message.type == "error"
                    and self.errors.append(f"console error: {message.text}"))
        self.tab.on("requestfailed", lambda request: self.errors.append(
            f"failed to load {request.url}: {request.failure}"))

    def open(self, path: Path, query: str = "") -> None:
        self.tab.goto(path.as_uri() + query, wait_until="load")
        # MathJax 3 (served by sphinx-mathjax-offline) typesets after load; wait for it and
        # for the images. A page without math has no MathJax at all.
        try:
            self.tab.wait_for_function("""async () => {
                if (window.MathJax === undefined) return true;
                if (MathJax.startup === undefined || !MathJax.startup.promise) return false;
                await MathJax.startup.promise;
                await Promise.all(Array.from(document.images).map(img => img.complete ? null :
                    new Promise(done => { img.onload = img.onerror = done; })));
                return true;
            }""", timeout=MATHJAX_TIMEOUT_MS)
        except PlaywrightTimeout:
            self.errors.append(f"MathJax did not load or finish within {MATHJAX_TIMEOUT_MS} ms")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(browser):
    page = Page(browser, DESKTOP)
    yield page
    page.close()


@pytest.fixture
def phone(browser):
    page = Page(browser, PHONE)
    yield page
    page.close()


def screenshot(page: Page, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.tab.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000, f"empty screenshot {path}"
    return path


def link_target(href: str) -> Path | None:
    """The file an internal link points to (fragment and query stripped), else None."""
    url = urlparse(href)
    if url.scheme != "file":
        return None  # http(s), mailto, javascript: not ours to check
    return Path(unquote(url.path))


@pytest.mark.parametrize("page_name", PAGES)
def test_page_renders(desktop, page_name):
    desktop.open(built(page_name))
    screenshot(desktop, page_name)

    assert desktop.tab.title(), f"{page_name} has no title"
    broken_images = desktop.tab.evaluate("""() => Array.from(document.images)
        .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)""")
    assert broken_images == [], f"{page_name}: images that did not load: {broken_images}"

    # Every formula became MathJax output, and no TeX delimiter is left in the visible text
    # (code cells excluded: they may print such characters on purpose).
    untypeset = desktop.tab.evaluate("""() => Array.from(document.querySelectorAll(
        'span.math, div.math')).filter(el => !el.querySelector('mjx-container'))
        .map(el => el.textContent.slice(0, 80))""")
    assert untypeset == [], f"{page_name}: formulas MathJax did not typeset: {untypeset}"
    text = desktop.tab.evaluate("""() => {
        let text = document.body.innerText;
        for (const el of document.querySelectorAll('pre, code'))
            if (el.innerText) text = text.split(el.innerText).join(' ');
        return text;
    }""")
    for raw in ("$$", "\\(", "\\)", "\\[", "\\]"):
        where = text.find(raw)
        assert where < 0, f"{page_name}: raw {raw!r} in the text: {text[where - 60:where + 60]!r}"

    hrefs = desktop.tab.evaluate("() => Array.from(document.querySelectorAll('a[href]'), a => a.href)")
    targets = {href: link_target(href) for href in hrefs}
    broken = sorted(href for href, target in targets.items()
                    if target is not None and not target.is_file()
                    and not (target / "index.html").is_file())
    assert broken == [], f"{page_name}: links to files that do not exist: {broken}"
    assert any(target is not None for target in targets.values()), f"{page_name}: no internal links"

    assert desktop.errors == [], f"{page_name}: " + "\n".join(desktop.errors)


@pytest.mark.parametrize("page_name", PAGES)
def test_every_block_fits_the_column(desktop, page_name):
    """At 1280 px no code cell, output, table or display equation scrolls sideways, and the
    text column is as wide as gconv_lib.viz.COLUMN_PX (the width the figures are drawn for)."""
    from gconv_lib import viz

    desktop.open(built(page_name))
    column = desktop.tab.evaluate("() => document.querySelector('article.bd-article p')"
                                  ".getBoundingClientRect().width")
    assert abs(column - viz.COLUMN_PX) <= OVERFLOW_TOLERANCE_PX, (
        f"{page_name}: the text column is {column:.0f} px wide at {DESKTOP['width']} px, but the "
        f"figures are drawn for viz.COLUMN_PX = {viz.COLUMN_PX} px")
    overflowing = desktop.tab.evaluate("""([selector, tolerance]) => {
        const found = [];
        for (const el of document.querySelectorAll(selector)) {
            if (el.scrollWidth <= el.clientWidth + tolerance) continue;
            const cell = el.closest('div.cell');
            const heading = [...document.querySelectorAll('h1, h2, h3')]
                .filter(h => h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
            found.push(`${el.tagName.toLowerCase()}.${el.className || ''} under "${heading ?
                heading.innerText.trim() : ''}"${cell ? ' (cell ' +
                [...document.querySelectorAll('div.cell')].indexOf(cell) + ')' : ''}: ` +
                `${el.scrollWidth} px in ${el.clientWidth} px, starting ` +
                JSON.stringify(el.innerText.trim().slice(0, 60)));
        }
        return found;
    }""", [BLOCKS, OVERFLOW_TOLERANCE_PX])
    assert overflowing == [], (f"{page_name}: {len(overflowing)} block(s) wider than the column at "
                               f"{DESKTOP['width']} px:\n" + "\n".join(overflowing))


@pytest.mark.parametrize("page_name", PAGES)
def test_page_reads_at_phone_width(phone, page_name):
    phone.open(built(page_name))
    screenshot(phone, f"phone/{page_name}")
    widths = phone.tab.evaluate("""() => ({page: document.documentElement.scrollWidth,
                                          window: window.innerWidth})""")
    assert widths["page"] <= widths["window"] + OVERFLOW_TOLERANCE_PX, (
        f"{page_name} scrolls sideways at {PHONE['width']} px: {widths['page']} px wide")
    assert phone.errors == [], f"{page_name}: " + "\n".join(phone.errors)


def test_animation_steps_and_plays_without_a_kernel(desktop):
    """The intro's animation (matplotlib's JavaScript player) runs in the static page."""
    desktop.open(built("book/intro"))
    frame = desktop.tab.locator("div.animation img")
    assert frame.count() == 1, "the intro has no animation"
    first = frame.get_attribute("src")
    desktop.tab.get_by_role("button", name="Next frame").click()
    second = frame.get_attribute("src")
    assert second != first, "'Next frame' did not change the picture"
    desktop.tab.get_by_role("button", name="Play", exact=True).click()
    desktop.tab.wait_for_function("src => document.querySelector('div.animation img').src != src",
                                  arg=second, timeout=5_000)
    desktop.tab.get_by_role("button", name="Pause").click()
    assert desktop.errors == [], "\n".join(desktop.errors)


@pytest.fixture
def served_book():
    """The book over HTTP on 127.0.0.1, as a host would serve it (search fetches pages, which
    browsers refuse from file://); stopped after the test."""
    built("book/intro")

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/favicon.ico":  # the book has none; a browser asks anyway
                self.send_response(204)
                self.end_headers()
            else:
                super().do_GET()

        def log_message(self, *args):
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(HTML))) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        thread.join(timeout=10)


def test_search_finds_pages(desktop, served_book):
    desktop.tab.goto(f"{served_book}/search.html?q=groups", wait_until="load")
    results = "#search-results ul.search li"
    desktop.tab.wait_for_function(
        "() => (document.querySelector('.search-summary')?.innerText ?? '').startsWith('Search finished')")
    # Sphinx fills in each page's summary by fetching that page; wait until all have come.
    desktop.tab.wait_for_load_state("networkidle")
    screenshot(desktop, "search")
    assert desktop.tab.locator(f"{results} p.context").count() > 0, "no result has a summary"
    hrefs = desktop.tab.evaluate(f"() => Array.from(document.querySelectorAll('{results} a'), a => a.href)")
    pages = {urlparse(href).path.lstrip("/") for href in hrefs}
    assert len(pages) >= 3, f"searching 'groups' found only {sorted(pages)}"
    missing = sorted(page for page in pages if not (HTML / page).is_file())
    assert missing == [], f"search results that are not pages of the book: {missing}"
    assert desktop.errors == [], "\n".join(desktop.errors)


def test_api_page_documents_every_public_name():
    """Every name in gconv_lib.__all__ has an entry on the API page, where it is defined."""
    html = built("book/api").read_text()
    anchors = set(re.findall(r'id="(gconv_lib\.[\w.]+)"', html))
    missing = []
    for name in gconv_lib.__all__:
        obj = getattr(gconv_lib, name)
        if hasattr(obj, "__module__") and hasattr(obj, "__qualname__"):
            expected = {f"{obj.__module__}.{obj.__qualname__}"}  # where it is defined
        else:  # a constant: documented in whichever module holds it
            expected = {anchor for anchor in anchors if anchor.endswith(f".{name}")}
        if not expected & anchors:
            missing.append(f"{name} (expected #{' or #'.join(sorted(expected)) or '...'}: add its "
                           "module to book/api.md)")
    assert missing == [], "not on the API page: " + ", ".join(missing)
