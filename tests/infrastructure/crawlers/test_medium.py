"""MediumCrawler in headless Chromium against local pages: late JavaScript content, walls, infinite scroll."""

import re
import socket
from pathlib import Path

import pytest

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths
from llm_engineering.infrastructure.crawlers.medium import MediumCrawler
from llm_engineering.infrastructure.crawlers.walls import find_wall
from tests.support.http_server import LocalServer

# The story exists only after a script inserts it, as on Medium's client-rendered pages.
LATE_STORY = """<!doctype html><html><head><title>Loading</title></head><body>
<div id="root"></div>
<script>
setTimeout(() => {
  document.title = "Retrieval at home | Medium";
  document.getElementById("root").innerHTML = `<article>
    <h1>Retrieval at home</h1><h2 class="pw-subtitle-paragraph">A vector index on a laptop</h2>
    <section><p>Inserted by the script, after the page had loaded.</p><p>A second paragraph.</p>
    <pre><span>index = build()<br>index.search(query)</span></pre></section></article>`;
}, 300);
</script></body></html>"""

# Each scroll to the bottom loads one more part, twice, like an infinite feed.
ENDLESS_STORY = """<!doctype html><html><head><title>Long read</title></head><body>
<article><h1>Long read</h1><section id="story"><p>The part served with the page.</p>
<div style="height: 3000px"></div></section></article>
<script>
let loaded = 0, loading = false;
window.addEventListener("scroll", () => {
  const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 50;
  if (!atBottom || loading || loaded >= 2) return;
  loading = true;
  setTimeout(() => {
    loaded += 1;
    const part = document.createElement("p");
    part.textContent = "Part " + loaded + " loaded on scroll.";
    const spacer = document.createElement("div");
    spacer.style.height = "3000px";
    document.getElementById("story").append(part, spacer);
    loading = false;
  }, 200);
});
</script></body></html>"""

WALLS = {
    "bot check": """<html><head><title>Just a moment...</title></head><body>
        <div id="challenge-running">Checking your browser before accessing medium.com.</div></body></html>""",
    "sign-in wall": """<html><head><title>Medium</title></head><body>
        <div><h2>Sign in to read this story</h2><button>Sign in with Google</button></div></body></html>""",
    "member-only wall": """<html><head><title>Secrets | Medium</title></head><body><article>
        <h1>Secrets</h1><p>Member-only story</p><p>The first lines of the story...</p></article>
        <div>The author made this story available to Medium members only.</div></body></html>""",
    # A block page with a heading of its own, which once passed for the story.
    "bot check (PerimeterX)": """<html><head><title>Access to this page has been denied</title></head><body>
        <h1>Access to this page has been denied</h1><div id="px-captcha"></div>
        <p>Press &amp; Hold to confirm you are a human (and not a bot).</p></body></html>""",
    # Titled with the site's name and without a heading: only its markers give it away.
    "bot check (DataDome)": """<html><head><title>medium.com</title></head><body>
        <script>var dd={'rt':'c','cid':'AHrlqAAAAAMA','t':'fe','host':'geo.captcha-delivery.com'}</script>
        </body></html>""",
}


@pytest.mark.browser
def test_content_inserted_by_javascript_is_crawled(
    server: LocalServer, config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    server["/@iris/retrieval-at-home"] = (200, "text/html; charset=utf-8", LATE_STORY)
    link = server.url("/@iris/retrieval-at-home")
    [document] = MediumCrawler(config, browser_paths).crawl(link, author)
    assert document.platform == "medium"
    assert (document.link, document.author_full_name) == (link, "Iris Calder")
    assert document.content["title"] == "Retrieval at home"
    assert document.content["subtitle"] == "A vector index on a laptop"
    assert document.content["body"] == (
        "Inserted by the script, after the page had loaded.\n\nA second paragraph.\n\n"
        "```\nindex = build()\nindex.search(query)\n```"
    )


@pytest.mark.browser
def test_content_loaded_on_scroll_is_included(
    server: LocalServer, config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    server["/@iris/long-read"] = (200, "text/html; charset=utf-8", ENDLESS_STORY)
    [document] = MediumCrawler(config, browser_paths).crawl(server.url("/@iris/long-read"), author)
    assert document.content["body"] == (
        "The part served with the page.\n\nPart 1 loaded on scroll.\n\nPart 2 loaded on scroll."
    )


@pytest.mark.browser
@pytest.mark.parametrize("wall", WALLS)
def test_a_wall_fails_with_its_reason(
    server: LocalServer, config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths, wall: str
) -> None:
    server["/@iris/walled"] = (200, "text/html; charset=utf-8", WALLS[wall])
    with pytest.raises(CrawlError, match=re.escape(f"Medium showed a {wall}") + ".*nothing was stored"):
        MediumCrawler(config, browser_paths).crawl(server.url("/@iris/walled"), author)


@pytest.mark.browser
def test_a_page_that_never_shows_a_story_times_out(
    server: LocalServer, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    server["/@iris"] = (200, "text/html", "<html><head><title>Profile</title></head><body><p>Iris</p></body>")
    config = CrawlConfig(browser_timeout_s=1.0)
    with pytest.raises(CrawlError, match=r"no article appeared at .* within 1.0s \(page title 'Profile'\)"):
        MediumCrawler(config, browser_paths).crawl(server.url("/@iris"), author)


@pytest.mark.browser
def test_an_unreachable_page_fails_with_the_browser_error(
    config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, so nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CrawlError, match=r"Chromium could not load .*ERR_CONNECTION_REFUSED"):
        MediumCrawler(config, browser_paths).crawl(f"http://127.0.0.1:{port}/@iris/story", author)


def test_missing_browser_binaries_say_how_to_install_them(
    tmp_path: Path, config: CrawlConfig, author: UserDocument
) -> None:
    paths = BrowserPaths(chromium=tmp_path / "chromium", chromedriver=tmp_path / "chromedriver")
    with pytest.raises(
        CrawlError, match=r"Chromium .* and ChromeDriver .*apt-get install chromium chromium-driver"
    ):
        MediumCrawler(config, paths).crawl("https://medium.com/@iris/a-story", author)


def test_a_free_story_with_a_sign_in_banner_is_not_a_wall() -> None:
    paragraph = "<p>A free story keeps going for a while, sentence after sentence, as stories do.</p>"
    html = f"""<html><head><title>Story | Medium</title></head><body>
    <div class="banner"><a href="/signin">Sign in to read more stories</a></div>
    <article><h1>Story</h1>{paragraph * 15}</article></body></html>"""
    assert find_wall(html) is None
