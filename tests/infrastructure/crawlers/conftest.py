"""Fixtures of the crawler tests: a local HTTP server, the author, fast crawl settings, browser binaries."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.documents import UserDocument
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths
from tests.support.http_server import LocalServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """An empty local server; tests add routes with `server["/path"] = …`."""
    with LocalServer() as running:
        yield running


@pytest.fixture
def author() -> UserDocument:
    return UserDocument(first_name="Iris", last_name="Calder")


@pytest.fixture
def config() -> CrawlConfig:
    """Short timeouts and backoff so failure paths take milliseconds, not the production seconds."""
    return CrawlConfig(http_timeout_s=2.0, http_retries=2, http_backoff_s=0.01, browser_timeout_s=10.0)


@pytest.fixture
def browser_paths() -> BrowserPaths:
    """The Debian Chromium binaries; tests that need them are skipped where they are not installed."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)}: apt-get install chromium chromium-driver")
    return BrowserPaths(chromium=CHROMIUM, chromedriver=CHROMEDRIVER)
