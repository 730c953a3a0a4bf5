"""The Medium crawler: Medium builds its pages with JavaScript and walls off bots, so it drives Chromium.

A bot check, sign-in or member-only wall is reported as a failure, never stored as the article.
Medium's own export (Settings → Download your information) read through `medium-export:` is the
dependable path when the site refuses automated browsers.
"""

from typing import Any

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import ArticleDocument, Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths, headless_chromium, scroll_to_bottom
from llm_engineering.infrastructure.crawlers.html_text import extract_article
from llm_engineering.infrastructure.crawlers.http import check_url

BOT_CHECK_TITLES = ("just a moment", "attention required", "verify you are human", "access denied")
CHALLENGE_SELECTOR = (
    "#challenge-form, #challenge-running, .cf-challenge, .g-recaptcha, .h-captcha, "
    "iframe[src*='captcha'], iframe[src*='challenges.cloudflare.com']"
)
MEMBER_MARKERS = ("member-only story", "available to medium members only", "become a member to read")
SIGN_IN_MARKERS = ("sign in to read", "sign in to continue", "sign up to read", "create an account to read")
# One round trip per poll: what the wait and the wall check need to know about the page.
PAGE_STATE_JS = f"""
return {{
    title: document.title || "",
    text: document.body ? document.body.innerText.slice(0, 50000) : "",
    article: document.querySelector("article") !== null,
    heading: document.querySelector("article, h1") !== null,
    challenge: document.querySelector("{CHALLENGE_SELECTOR}") !== null,
}};
"""
EXPORT_HINT = (
    "export your Medium stories (Settings → Download your information) and crawl medium-export:<zip>"
)


def wall_reason(state: dict[str, Any]) -> str | None:
    """What kind of wall the page shows instead of the story, or None when it shows the story."""
    title, text = str(state["title"]).lower(), str(state["text"]).lower()
    if state["challenge"] or any(marker in title for marker in BOT_CHECK_TITLES):
        return "a bot check (captcha / 'Just a moment…') instead of the story"
    if any(marker in text for marker in MEMBER_MARKERS):
        return "a member-only wall: only a preview of the story is public"
    # A free story may carry a sign-in banner too, so the marker counts only when no <article> is there.
    if not state["article"] and any(marker in text for marker in SIGN_IN_MARKERS):
        return "a sign-in wall instead of the story"
    return None


def page_state(driver: WebDriver) -> dict[str, Any]:
    """Title, visible text and which landmarks the page has, as the wall check reads them."""
    state: dict[str, Any] = driver.execute_script(PAGE_STATE_JS)
    return state


def _article_or_wall(driver: WebDriver) -> bool:
    state = page_state(driver)
    return bool(state["heading"] or wall_reason(state))


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
        reason = wall_reason(page_state(driver))
        if reason:
            raise CrawlError(
                f"Medium showed {reason} at {link}; nothing was stored. To crawl it, {EXPORT_HINT}"
            )
        scroll_to_bottom(driver, self.config.max_scrolls, self.config.scroll_settle_s)
        return str(driver.page_source)
