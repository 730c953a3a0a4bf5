"""Headless Chromium for pages that build their content with JavaScript, from local binaries only."""

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.exceptions import CrawlError

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # containers usually lack the namespaces Chromium's sandbox needs
    "--disable-gpu",
    "--disable-dev-shm-usage",  # /dev/shm is tiny in containers and crashes tabs
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1024",
)
PAGE_HEIGHT_JS = "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);"
INSTALL_HINT = (
    "install them with `apt-get install chromium chromium-driver` "
    "or point CHROMIUM_BINARY and CHROMEDRIVER_PATH at them"
)


@dataclass(frozen=True)
class BrowserPaths:
    """Where the Chromium and ChromeDriver executables are; nothing is ever downloaded."""

    chromium: Path
    chromedriver: Path

    def check(self) -> None:
        """Raise CrawlError naming every missing or non-executable binary."""
        missing = [
            f"{name} ({path})"
            for name, path in (("Chromium", self.chromium), ("ChromeDriver", self.chromedriver))
            if not (Path(path).is_file() and os.access(path, os.X_OK))
        ]
        if missing:
            raise CrawlError(
                f"Browser crawling needs {' and '.join(missing)}, which are missing: {INSTALL_HINT}."
            )


def chromium_options(paths: BrowserPaths, config: CrawlConfig, profile_dir: Path) -> webdriver.ChromeOptions:
    """Options of a headless, quiet Chromium with a throwaway profile."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(paths.chromium)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--user-agent={config.user_agent}")
    return options


@contextmanager
def headless_chromium(paths: BrowserPaths, config: CrawlConfig) -> Iterator[webdriver.Chrome]:
    """A headless Chromium WebDriver with a fresh profile, always quit on exit."""
    paths.check()
    with tempfile.TemporaryDirectory(prefix="twin-chromium-", ignore_cleanup_errors=True) as profile:
        # Passing the driver path is what keeps Selenium Manager from downloading a driver.
        service = Service(executable_path=str(paths.chromedriver))
        try:
            driver = webdriver.Chrome(options=chromium_options(paths, config, Path(profile)), service=service)
        except WebDriverException as error:
            raise CrawlError(
                f"Chromium at {paths.chromium} did not start: {error.msg or error}. "
                f"Check that Chromium and ChromeDriver have the same version; {INSTALL_HINT}."
            ) from error
        try:
            driver.set_page_load_timeout(config.browser_timeout_s)
            yield driver
        finally:
            driver.quit()


def scroll_to_bottom(driver: WebDriver, max_scrolls: int, settle_s: float) -> int:
    """Scroll until the page stops growing or `max_scrolls` is reached; return the scrolls that grew it."""
    height = int(driver.execute_script(PAGE_HEIGHT_JS))
    for scroll in range(max_scrolls):
        driver.execute_script("window.scrollTo(0, arguments[0]);", height)
        try:
            WebDriverWait(driver, settle_s, poll_frequency=0.1).until(_grown_past(height))
        except TimeoutException:
            return scroll  # the page stopped growing: everything is loaded
        height = int(driver.execute_script(PAGE_HEIGHT_JS))
    if max_scrolls:  # zero means scrolling is off, which is no reason to warn
        logger.warning(
            "Stopped after max_scrolls={} on {}; it may hold more", max_scrolls, driver.current_url
        )
    return max_scrolls


def _grown_past(height: int) -> Callable[[WebDriver], bool]:
    """A wait condition: the page is now taller than `height`."""
    return lambda driver: int(driver.execute_script(PAGE_HEIGHT_JS)) > height
