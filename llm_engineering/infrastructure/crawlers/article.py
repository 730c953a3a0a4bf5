"""The crawler of server-rendered articles: personal blogs and Substack posts."""

from urllib.parse import urlsplit

from loguru import logger

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import ArticleDocument, Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.html_text import extract_article
from llm_engineering.infrastructure.crawlers.http import fetch_html
from llm_engineering.infrastructure.crawlers.walls import find_wall, wall_error

EXPORT_HINTS = {
    "substack": (
        "export your posts (Substack: Settings → Exports) and crawl substack-export:<zip>?publication=<name>"
    ),
    "blog": "use your blog platform's export, or save the page from your browser and crawl folder:<folder>",
}


def article_platform(link: str) -> str:
    """The platform an article link belongs to.

    >>> article_platform("https://iris.substack.com/p/notes"), article_platform("https://iris.dev/notes")
    ('substack', 'blog')
    """
    host = (urlsplit(link).hostname or "").lower()
    return "substack" if host == "substack.com" or host.endswith(".substack.com") else "blog"


class ArticleCrawler:
    """Fetches one article page over HTTP and keeps its title, subtitle and Markdown body."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        """One ArticleDocument for the page at `link`; CrawlError when it cannot be fetched or has no text."""
        page = fetch_html(link, self.config)
        platform = article_platform(link)
        wall = find_wall(page.html)
        if wall:
            raise wall_error(wall, urlsplit(page.url).hostname or link, link, EXPORT_HINTS[platform])
        article = extract_article(page.html)
        if not article.body:
            raise CrawlError(
                f"no article text found at {link}: the page may build its text with JavaScript "
                "or hide it behind a login; use the page's export or a direct article link"
            )
        logger.debug("Crawled {!r} ({} characters) from {}", article.title, len(article.body), link)
        document = ArticleDocument(
            content=article.as_content(),
            platform=platform,
            author_id=author.id,
            author_full_name=author.full_name,
            link=link,
        )
        return [document]
