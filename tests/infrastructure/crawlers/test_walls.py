"""The wall detector on page snippets, and each crawler refusing a served bot check or sign-in wall."""

import re

import pytest

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.article import ArticleCrawler
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths
from llm_engineering.infrastructure.crawlers.walls import find_wall, wall_error
from tests.infrastructure.crawlers.linkedin.test_crawler import crawler, serve_linkedin
from tests.support.http_server import LocalServer, Route

CLOUDFLARE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head>
<body><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">iris.example.com</h1>
<p>Verifying you are human. This may take a few seconds.</p>
<p>iris.example.com needs to review the security of your connection before proceeding.</p>
</div></div><div class="footer">Ray ID: 8a1b2c3d4e5f6a7b · Performance &amp; security by Cloudflare</div>
</body></html>"""
# Titled with the site's own name, its text says nothing telling: only its markup gives it away.
CLOUDFLARE_MARKUP_ONLY = """<!DOCTYPE html><html><head><title>Iris writes</title></head><body>
<h1>Iris writes</h1><p>One moment, please.</p><div id="cf-chl-widget-x1c9"></div>
<script>window._cf_chl_opt = {cvId: '3', cZone: "iris.example.com", cType: 'managed'};</script>
<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8a1b2c3d"></script></body></html>"""
CLOUDFLARE_BLOCKED = """<html><head><title>Attention Required! | Cloudflare</title></head><body>
<div id="cf-wrapper"><div id="cf-error-details"><h1>Sorry, you have been blocked</h1>
<h2>You are unable to access iris.example.com</h2></div></div></body></html>"""
PERIMETERX = """<html><head><title>Access to this page has been denied</title></head><body>
<div class="container"><h1>Access to this page has been denied</h1><div id="px-captcha"></div>
<p>Press &amp; Hold to confirm you are a human (and not a bot).</p><p>Reference ID 1f2e3d4c</p></div>
<script>window._pxAppId = 'PXabc123';</script></body></html>"""
DATADOME = """<html><head><title>iris.example.com</title></head><body style="margin:0">
<p id="cmsg">Please enable JS and disable any ad blocker</p>
<script>var dd={'rt':'c','cid':'AHrlqAAAAAMA','t':'fe','host':'geo.captcha-delivery.com'}</script>
</body></html>"""
AKAMAI = """<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>
You don't have permission to access "http&#58;&#47;&#47;iris&#46;example&#46;com&#47;" on this server.
<P>Reference&#32;&#35;18&#46;6f64d517&#46;1700000000&#46;1a2b3c4d</P></BODY></HTML>"""
HCAPTCHA = """<html><head><title>Iris writes</title></head><body><form method="post" action="/verify">
<div class="h-captcha" data-sitekey="10000000-ffff-ffff-ffff-000000000001"></div>
<button>Continue</button></form></body></html>"""
RECAPTCHA = """<html><head><title>One more step</title></head><body><form action="/verify">
<div class="g-recaptcha" data-sitekey="6Le-key"></div><input type="submit"></form></body></html>"""
SIGN_IN = """<html><head><title>Iris writes</title></head><body><main><h2>Sign in to continue</h2>
<form><input name="email"><input type="password" name="password"><button>Sign in</button></form>
<p>New here? <a href="/join">Create an account</a></p></main></body></html>"""
PREVIEW = "<p>The opening of the story is public, and it runs on for a few sentences before the wall.</p>"
MEMBER_ONLY = f"""<html><head><title>Secrets | Medium</title></head><body><article><h1>Secrets</h1>
<div><span>Member-only story</span></div>{PREVIEW * 12}</article>
<div>The author made this story available to Medium members only.</div></body></html>"""
CHECKPOINT = """<html><head><title>Security Verification | LinkedIn</title></head><body>
<h1>Let's do a quick security check</h1><div id="captcha-internal"></div></body></html>"""

WALL_PAGES = {
    "cloudflare": (CLOUDFLARE, "a bot check (Cloudflare)"),
    "cloudflare, markup only": (CLOUDFLARE_MARKUP_ONLY, "a bot check (Cloudflare)"),
    "cloudflare block": (CLOUDFLARE_BLOCKED, "a bot check (Cloudflare)"),
    "perimeterx": (PERIMETERX, "a bot check (PerimeterX)"),
    "datadome": (DATADOME, "a bot check (DataDome)"),
    "akamai": (AKAMAI, "an access-denied page (Akamai)"),
    "hcaptcha": (HCAPTCHA, "a captcha (hCaptcha/reCAPTCHA)"),
    "recaptcha": (RECAPTCHA, "a captcha (hCaptcha/reCAPTCHA)"),
    "sign-in wall": (SIGN_IN, "a sign-in wall"),
    "member-only beside a preview": (MEMBER_ONLY, "a member-only wall"),
    "checkpoint": (CHECKPOINT, "a security checkpoint"),
}

PROSE = (
    "<p>Bots fill my comment form every night, so this week I compared the usual defences: a captcha, "
    "a honeypot field and rate limits. None of them is free, and each one costs real readers a little "
    "patience, which is the currency a small blog can least afford to spend.</p>"
)
# Ordinary articles that talk about walls, carry a captcha widget or a sign-in banner, or load a CDN beacon.
ORDINARY_PAGES = {
    "article about captchas": f"""<html><head><title>Captchas are a tax</title></head><body><article>
        <h1>Captchas are a tax</h1>{PROSE * 2}
        <p>Cloudflare's interstitial ("Just a moment...") sets <code>cf-chl</code> markers; mine says
        <q>Sign in to continue</q> and I hate it. Do you need to verify you are human?</p>
        <pre><code>&lt;div class="g-recaptcha"&gt;&lt;/div&gt;</code></pre>{PROSE}</article></body></html>""",
    "article with a comment captcha": f"""<html><head><title>Spam</title></head><body><article><h1>Spam</h1>
        {PROSE * 3}</article><form id="comments"><div class="g-recaptcha" data-sitekey="k"></div>
        <button>Post comment</button></form></body></html>""",
    "article with a sign-in banner": f"""<html><head><title>Notes</title></head><body>
        <div class="banner"><a href="/login">Sign in to read more stories</a></div>
        <article><h1>Notes</h1>{PROSE * 3}</article></body></html>""",
    # Cloudflare adds this beacon to ordinary pages; it is no challenge, even on a short note.
    "short note with the Cloudflare beacon": """<html><head><title>A note</title></head><body>
        <article><h1>A note</h1><p>Shipped the crawler today.</p></article>
        <script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script></body></html>""",
    "short note titled Access denied": """<html><head><title>Access denied</title></head><body>
        <article><h1>Access denied</h1><p>What a 403 taught me about caching.</p></article></body></html>""",
}


@pytest.mark.parametrize("name", WALL_PAGES)
def test_each_kind_of_wall_is_recognised(name: str) -> None:
    html, kind = WALL_PAGES[name]
    wall = find_wall(html)
    assert wall is not None
    assert wall.kind == kind


@pytest.mark.parametrize("name", ORDINARY_PAGES)
def test_ordinary_pages_are_no_walls(name: str) -> None:
    assert find_wall(ORDINARY_PAGES[name]) is None


def test_the_reason_names_the_wall_and_what_to_do() -> None:
    wall = find_wall(PERIMETERX)
    assert wall is not None
    error = wall_error(wall, "iris.example.com", "https://iris.example.com/p", "crawl its export instead")
    assert str(error) == (
        "iris.example.com showed a bot check (PerimeterX) at https://iris.example.com/p instead of the "
        "content, so nothing was stored (the site blocks automated clients, and retrying will not get "
        "past it); crawl its export instead"
    )


@pytest.mark.parametrize("page", [CLOUDFLARE, CLOUDFLARE_MARKUP_ONLY, PERIMETERX, AKAMAI, SIGN_IN])
def test_the_article_crawler_refuses_a_wall_served_with_http_200(
    server: LocalServer, config: CrawlConfig, author: UserDocument, page: str
) -> None:
    server["/posts/boring-pipelines"] = (200, "text/html; charset=utf-8", page)
    link = server.url("/posts/boring-pipelines")
    kind = find_wall(page).kind  # type: ignore[union-attr]
    expected = rf"^127\.0\.0\.1 showed {re.escape(kind)} at {re.escape(link)} .*nothing was stored.*folder:"
    with pytest.raises(CrawlError, match=expected):
        ArticleCrawler(config).crawl(link, author)


def test_the_article_crawler_keeps_an_article_about_captchas(
    server: LocalServer, config: CrawlConfig, author: UserDocument
) -> None:
    server["/posts/captchas"] = (200, "text/html; charset=utf-8", ORDINARY_PAGES["article about captchas"])
    [document] = ArticleCrawler(config).crawl(server.url("/posts/captchas"), author)
    assert document.content["title"] == "Captchas are a tax"
    assert "Sign in to continue" in document.content["body"]


@pytest.mark.browser
def test_the_linkedin_crawler_refuses_a_bot_check_instead_of_the_posts(
    server: LocalServer, config: CrawlConfig, author: UserDocument, browser_paths: BrowserPaths
) -> None:
    serve_linkedin(server, Route(status=303, headers={"Location": "/feed/"}))
    server["/in/iris-calder/recent-activity/all/"] = (200, "text/html", PERIMETERX)
    with pytest.raises(
        CrawlError,
        match=r"LinkedIn showed a bot check \(PerimeterX\) at .*/recent-activity/all/ .*linkedin-export",
    ):
        crawler(server, config, browser_paths).crawl(server.url("/in/iris-calder/"), author)
