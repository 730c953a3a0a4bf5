"""The Medium crawler: Medium builds its pages with JavaScript and walls off bots, so it drives Chromium.

A bot check, sign-in or member-only wall is reported as a failure, never stored as the article.
Medium's own export (Settings → Download your information) read through `medium-export:` is the
dependable path when the site refuses automated browsers.
"""

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import ArticleDocument, Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths, headless_chromium, scroll_to_bottom
from llm_engineering.infrastructure.crawlers.html_text import extract_article
from llm_engineering.infrastructure.crawlers.http import check_url
from llm_engineering.infrastructure.crawlers.walls import find_wall, wall_error

EXPORT_HINT = (
    "export your Medium stories (Settings → Download your information) and crawl medium-export:<zip>"
)


def _article_or_wall(driver: WebDriver) -> bool:
    # The cheap look first; the page is parsed for walls only while no story has appeared.
    return bool(driver.find_elements(By.CSS_SELECTOR, "article, h1")) or bool(
        find_wall(str(driver.page_source))
    )


class MediumCrawler:
    """Renders a Medium story in headless Chromium and keeps its title, subtitle and Markdown body."""

    def __init__(self, config: CrawlConfig, browser: BrowserPaths) -> None:
        self.config = config
        self.browser = browser

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        """One ArticleDocument for the story at `link`; CrawlError for walls, timeouts and empty pages."""
        check_url(link)
        with headless_chromium(self.browser, self.config) as driver:
            try:
                html = self._render(driver, link)
            except WebDriverException as error:  # e.g. net::ERR_CONNECTION_REFUSED, a crashed tab
                raise CrawlError(f"Chromium could not load {link}: {error.msg or error}") from error
        article = extract_article(html)
        if not article.body:
            raise CrawlError(f"no article text found at {link}; {EXPORT_HINT}")
        document = ArticleDocument(
            content=article.as_content(),
            platform="medium",
            author_id=author.id,
            author_full_name=author.full_name,
            link=link,
        )
        return [document]

    def _render(self, driver: WebDriver, link: str) -> str:
        """The page's HTML once the story is in the DOM and every lazy part has loaded."""
        timeout = self.config.browser_timeout_s
        try:
            driver.get(link)
        except TimeoutException as error:
            raise CrawlError(f"{link} did not finish loading within {timeout}s; try again later") from error
        try:
            WebDriverWait(driver, timeout, poll_frequency=0.2).until(_article_or_wall)
        except TimeoutException as error:
            raise CrawlError(
                f"no article appeared at {link} within {timeout}s (page title {driver.title!r}); "
                f"the link may not be a story, or {EXPORT_HINT}"
            ) from error
        wall = find_wall(str(driver.page_source))
        if wall:
            raise wall_error(wall, "Medium", link, EXPORT_HINT)
        scroll_to_bottom(driver, self.config.max_scrolls, self.config.scroll_settle_s)
        return str(driver.page_source)
