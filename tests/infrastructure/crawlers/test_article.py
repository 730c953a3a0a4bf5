"""ArticleCrawler over HTTP: a blog post and a Substack-like post become ArticleDocuments."""

import pytest

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import ArticleDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.article import ArticleCrawler, article_platform
from tests.infrastructure.crawlers.test_html_text import BLOG
from tests.support.http_server import LocalServer

# Shaped like a Substack post page: title and subtitle in a post header, text in the body markup,
# subscribe widgets and a comment section around it.
SUBSTACK = """<!doctype html><html><head><title>Evaluating a twin - Iris's notes</title>
<meta property="og:title" content="Evaluating a twin">
<meta property="og:description" content="og text"></head>
<body><div class="topbar"><a>Iris's notes</a><button>Subscribe</button></div>
<article class="newsletter-post post"><div class="post-header">
  <h1 class="post-title">Evaluating a twin</h1><h3 class="subtitle">Judges, metrics and my own eyes</h3>
  <div class="post-meta">Iris Calder · Mar 3</div></div>
  <div class="available-content"><div class="body markup">
    <p>A judge model scores answers; I still read a sample myself.</p>
    <p>Here is the loop I run every week.</p>
    <pre><code>for answer in sample:
    score(answer)</code></pre>
    <div class="subscription-widget-wrap"><p>Subscribe to get new posts</p></div>
  </div></div>
</article>
<div id="comments"><p>12 comments</p></div></body></html>"""


def test_blog_post_is_crawled_to_an_article(
    server: LocalServer, config: CrawlConfig, author: UserDocument
) -> None:
    server["/posts/chunking"] = (200, "text/html; charset=utf-8", BLOG)
    link = server.url("/posts/chunking")
    [document] = ArticleCrawler(config).crawl(link, author)
    assert isinstance(document, ArticleDocument)
    assert document.platform == "blog"
    assert (document.link, document.author_id, document.author_full_name) == (link, author.id, "Iris Calder")
    assert document.content["title"] == "Chunking with overlap"
    assert document.content["subtitle"] == "Why windows should share a sentence"
    body = document.content["body"]
    assert "sentences.\n\nOverlap keeps an idea whole" in body
    assert "```python\ndef chunk(text, size):\n" in body


def test_substack_like_post_is_crawled_to_an_article(
    server: LocalServer, config: CrawlConfig, author: UserDocument
) -> None:
    server["/p/evaluating-a-twin"] = (200, "text/html; charset=utf-8", SUBSTACK)
    [document] = ArticleCrawler(config).crawl(server.url("/p/evaluating-a-twin"), author)
    assert document.content == {
        "title": "Evaluating a twin",
        "subtitle": "Judges, metrics and my own eyes",
        "body": (
            "A judge model scores answers; I still read a sample myself.\n\n"
            "Here is the loop I run every week.\n\n"
            "```\nfor answer in sample:\n    score(answer)\n```"
        ),
    }


@pytest.mark.parametrize(
    ("link", "platform"),
    [
        ("https://iris.substack.com/p/evaluating-a-twin", "substack"),
        ("https://substack.com/@iris/p-123", "substack"),
        ("https://notsubstack.com/p/x", "blog"),
        ("https://iris.dev/posts/chunking", "blog"),
    ],
)
def test_platform_follows_the_host(link: str, platform: str) -> None:
    assert article_platform(link) == platform


def test_a_page_without_text_fails(server: LocalServer, config: CrawlConfig, author: UserDocument) -> None:
    server["/app"] = (
        200,
        "text/html",
        "<html><body><div id='root'></div><script>boot()</script></body></html>",
    )
    with pytest.raises(CrawlError, match=r"no article text found at http://127\.0\.0\.1:\d+/app"):
        ArticleCrawler(config).crawl(server.url("/app"), author)


def test_http_failures_reach_the_caller(
    server: LocalServer, config: CrawlConfig, author: UserDocument
) -> None:
    with pytest.raises(CrawlError, match="HTTP 404"):
        ArticleCrawler(config).crawl(server.url("/missing"), author)
