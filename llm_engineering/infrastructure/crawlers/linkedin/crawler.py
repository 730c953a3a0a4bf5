"""The LinkedIn crawler: logs in with headless Chromium and reads a profile's recent posts.

This is the fragile path. LinkedIn changes its markup often, rate-limits and blocks automated
browsers, and answers unfamiliar logins with a security checkpoint; any of these is reported as a
CrawlError, never stored. LinkedIn's data export (Settings → Data privacy → Get a copy of your data),
crawled as `linkedin-export:<zip>`, is the robust way to get one's own posts.
"""

import re
from typing import Self
from urllib.parse import urlsplit

from selenium.common.exceptions import (
    InvalidSessionIdException,
    NoSuchWindowException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import Document, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths, headless_chromium, scroll_to_bottom
from llm_engineering.infrastructure.crawlers.http import check_url
from llm_engineering.infrastructure.crawlers.linkedin.posts import POST_SELECTOR, extract_posts, fallback_link
from llm_engineering.infrastructure.crawlers.walls import SIGN_IN, find_wall, wall_error
from llm_engineering.infrastructure.settings import Settings

USERNAME_SELECTOR = "#username, input[name='session_key']"
PASSWORD_SELECTOR = "#password, input[name='session_password']"
SUBMIT_SELECTOR = "button[type='submit'], input[type='submit']"
EXPORT_HINT = "a linkedin-export:<zip> of your LinkedIn data is the robust alternative"
# The login page is marked before submitting; a loaded page without the mark is the answer to the form.
MARK_PAGE_JS = "window.__twinLoginPage = true;"
NEW_DOCUMENT_JS = "return window.__twinLoginPage !== true && document.readyState === 'complete';"


def activity_url(link: str) -> str:
    """The recent-activity page of a /in/<name> profile link; any other link is opened as given.

    >>> activity_url("https://www.linkedin.com/in/iris-calder/")
    'https://www.linkedin.com/in/iris-calder/recent-activity/all/'
    """
    match = re.match(r"^(https?://[^/]+/in/[^/?#]+)", link)
    return f"{match.group(1)}/recent-activity/all/" if match else link


class _NewDocumentLoaded:
    """A wait condition: the browser has left the marked login page and loaded the next one.

    While the old document is torn down, Chromium answers script and element calls with transient
    errors (a destroyed context, "node does not belong to the document"); they mean "not yet", and
    the last one is kept to explain a timeout.
    """

    def __init__(self) -> None:
        self.last_error: WebDriverException | None = None

    def __call__(self, driver: WebDriver) -> bool:
        try:
            return bool(driver.execute_script(NEW_DOCUMENT_JS))
        except (InvalidSessionIdException, NoSuchWindowException):
            raise  # the browser or its window is gone: no point waiting
        except WebDriverException as error:
            self.last_error = error
            return False

    def last_error_hint(self) -> str:
        return (
            f" (the browser last said: {self.last_error.msg or self.last_error})" if self.last_error else ""
        )


def _posts_or_wall(driver: WebDriver) -> bool:
    # The cheap look first; the page is parsed for walls only while no post has appeared.
    return bool(driver.find_elements(By.CSS_SELECTOR, POST_SELECTOR)) or bool(
        find_wall(str(driver.page_source))
    )


class LinkedInCrawler:
    """Logs in to LinkedIn and turns a profile's recent activity into one PostDocument per post."""

    def __init__(
        self,
        config: CrawlConfig,
        browser: BrowserPaths,
        username: str,
        password: str,
        login_url: str = "https://www.linkedin.com/login",
    ) -> None:
        self.config = config
        self.browser = browser
        self.username = username
        self._password = password
        self.login_url = login_url

    @classmethod
    def from_settings(cls, config: CrawlConfig, browser: BrowserPaths, settings: Settings) -> Self:
        """The crawler with the credentials from settings; CrawlError when they are not set."""
        password = settings.linkedin_password.get_secret_value() if settings.linkedin_password else ""
        if not settings.linkedin_username or not password:
            raise CrawlError(
                "LinkedIn crawling is off: set LINKEDIN_USERNAME and LINKEDIN_PASSWORD in .env "
                f"to crawl profiles, or {EXPORT_HINT}."
            )
        return cls(config, browser, settings.linkedin_username, password)

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        """One PostDocument per post the author wrote on the profile at `link`."""
        check_url(link)
        page_url = activity_url(link)
        with headless_chromium(self.browser, self.config) as driver:
            try:
                self._log_in(driver)
                html = self._render_activity(driver, page_url)
            except WebDriverException as error:  # a page that failed to load, or markup that changed
                raise CrawlError(f"Chromium failed while crawling {link}: {error.msg or error}") from error
        posts = extract_posts(html, page_url)
        if not posts:
            raise CrawlError(f"no posts by the profile found at {page_url}; {EXPORT_HINT}")
        return [
            PostDocument(
                content={"text": post.text},
                platform="linkedin",
                author_id=author.id,
                author_full_name=author.full_name,
                link=post.permalink or fallback_link(link, post.text),
            )
            for post in posts
        ]

    def _log_in(self, driver: WebDriver) -> None:
        """Fill and submit the login form, then make sure LinkedIn let the session in."""
        wait = WebDriverWait(driver, self.config.browser_timeout_s)
        driver.get(self.login_url)
        try:
            field = wait.until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, USERNAME_SELECTOR))
            )
        except TimeoutException as error:
            raise CrawlError(f"no login form appeared at {self.login_url}; {EXPORT_HINT}") from error
        field.send_keys(self.username)
        driver.find_element(By.CSS_SELECTOR, PASSWORD_SELECTOR).send_keys(self._password)
        driver.execute_script(MARK_PAGE_JS)
        driver.find_element(By.CSS_SELECTOR, SUBMIT_SELECTOR).click()
        navigated = _NewDocumentLoaded()
        try:
            wait.until(navigated)
        except TimeoutException as error:
            raise CrawlError(
                f"the login form at {self.login_url} did not submit{navigated.last_error_hint()}; "
                f"{EXPORT_HINT}"
            ) from error
        self._check_logged_in(driver)

    def _check_logged_in(self, driver: WebDriver) -> None:
        path = urlsplit(driver.current_url).path
        wall = find_wall(str(driver.page_source))
        # A sign-in wall here is the login page again: the password check below explains it better.
        if "/challenge" in path or (wall is not None and wall is not SIGN_IN):
            shown = wall.kind if wall else "a /challenge page"
            raise CrawlError(
                "LinkedIn asked for a security check (checkpoint/captcha) after logging in as "
                f"{self.username} (it showed {shown}); "
                f"sign in once by hand from this network, or {EXPORT_HINT}"
            )
        if driver.find_elements(By.CSS_SELECTOR, PASSWORD_SELECTOR):
            raise CrawlError(
                f"LinkedIn did not accept the login for {self.username}; "
                "check LINKEDIN_USERNAME and LINKEDIN_PASSWORD in .env"
            )

    def _render_activity(self, driver: WebDriver, page_url: str) -> str:
        """The activity page's HTML once posts are there and scrolling loads no more."""
        driver.get(page_url)
        try:
            WebDriverWait(driver, self.config.browser_timeout_s).until(_posts_or_wall)
        except TimeoutException as error:
            raise CrawlError(
                f"no posts appeared at {page_url} (the browser ended on {driver.current_url}); "
                f"the profile may have no posts or LinkedIn changed its page; {EXPORT_HINT}"
            ) from error
        if not driver.find_elements(By.CSS_SELECTOR, POST_SELECTOR):
            wall = find_wall(str(driver.page_source))
            if wall:
                raise wall_error(wall, "LinkedIn", page_url, EXPORT_HINT)
        scroll_to_bottom(driver, self.config.max_scrolls, self.config.scroll_settle_s)
        return str(driver.page_source)
