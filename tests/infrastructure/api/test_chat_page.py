"""The chat page in a real headless Chromium against the service on localhost, built from fakes."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.infrastructure.api.app import ServiceLimits
from llm_engineering.infrastructure.api.service import TwinParts
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths, headless_chromium
from tests.support.fakes import ScriptedChatModel
from tests.support.service import StreamingScriptedModel, cite_first_source, fake_parts, running

pytestmark = pytest.mark.browser

QUESTION = "How does Iris Calder chunk documents?"
PATHS = BrowserPaths(chromium=Path("/usr/bin/chromium"), chromedriver=Path("/usr/bin/chromedriver"))
WAIT_S = 15


class DrippingModel(StreamingScriptedModel):
    """Streams word by word with a pause between words, so a half-written answer can be seen."""

    pause_s = 0.3


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    missing = [str(path) for path in (PATHS.chromium, PATHS.chromedriver) if not path.is_file()]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)}: apt-get install chromium chromium-driver")
    with headless_chromium(PATHS, CrawlConfig(browser_timeout_s=WAIT_S)) as chrome:
        yield chrome


@contextmanager
def chat_page(driver: WebDriver, parts: TwinParts, limits: ServiceLimits | None = None) -> Iterator[None]:
    """Serve `parts` on a fresh port (a fresh origin, so no stored key) and open the page."""
    with running(lambda: parts, limits) as url:
        driver.get(f"{url}/")
        yield


def ask(driver: WebDriver, question: str) -> None:
    WebDriverWait(driver, WAIT_S).until(ec.element_to_be_clickable((By.ID, "send")))
    field = driver.find_element(By.ID, "question")
    field.clear()
    field.send_keys(question)
    driver.find_element(By.ID, "send").click()


def status_when(driver: WebDriver, prefix: str) -> str:
    """Wait until the status line starts with `prefix` and return it."""

    def shown(d: WebDriver) -> str | bool:
        text: str = d.find_element(By.ID, "status").text
        return text if text.startswith(prefix) else False

    return WebDriverWait(driver, WAIT_S).until(shown)  # type: ignore[no-any-return]


def answer_text(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "answer").get_property("textContent")  # type: ignore[no-any-return]


def test_a_question_gets_a_streamed_answer_with_sources_and_rating_buttons(
    driver: WebDriver, tmp_path: Path
) -> None:
    parts = fake_parts(tmp_path)
    with chat_page(driver, parts):
        ask(driver, QUESTION)
        assert status_when(driver, "Answered in").endswith(" s")
        trace = parts.monitoring.get_trace(driver.execute_script("return answerId;"))
        assert trace is not None and trace.endpoint == "/rag/stream"
        assert answer_text(driver) == trace.answer
        assert trace.answer.startswith("As I wrote: I chunk documents by paragraph")
        links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#sources a")]
        assert "https://example.org/iris/0" in links
        WebDriverWait(driver, WAIT_S).until(ec.visibility_of_element_located((By.ID, "up")))
        assert driver.find_element(By.ID, "down").is_displayed()


def test_a_thumbs_down_with_a_correction_is_stored(driver: WebDriver, tmp_path: Path) -> None:
    parts = fake_parts(tmp_path)
    correction = "I chunk by section first, then by paragraph."
    with chat_page(driver, parts):
        ask(driver, QUESTION)
        status_when(driver, "Answered in")
        driver.find_element(By.ID, "correction").send_keys(correction)
        driver.find_element(By.ID, "down").click()
        status_when(driver, "Thanks for the feedback.")
        [stored] = list(parts.monitoring.iter_feedback())
        assert parts.monitoring.get_trace(stored.answer_id) is not None
        assert (stored.answer_id, stored.rating, stored.correction) == (
            driver.execute_script("return answerId;"),
            "down",
            correction,
        )


def test_the_api_key_field_unlocks_a_guarded_service(driver: WebDriver, tmp_path: Path) -> None:
    limits = ServiceLimits(api_key=SecretStr("s3cret-key"))
    with chat_page(driver, fake_parts(tmp_path), limits):
        ask(driver, QUESTION)
        assert "401" in status_when(driver, "Error")
        assert not driver.find_element(By.ID, "up").is_displayed()
        driver.find_element(By.CSS_SELECTOR, "details summary").click()
        WebDriverWait(driver, WAIT_S).until(ec.visibility_of_element_located((By.ID, "key"))).send_keys(
            "s3cret-key"
        )
        ask(driver, QUESTION)
        status_when(driver, "Answered in")
        assert answer_text(driver).startswith("As I wrote:")


def test_a_failing_model_shows_an_error_without_internals(driver: WebDriver, tmp_path: Path) -> None:
    def broken(user: str, attempt: int) -> str:
        raise RuntimeError("secret path /srv/models/twin exploded")

    with chat_page(driver, fake_parts(tmp_path, ScriptedChatModel(broken))):
        ask(driver, QUESTION)
        status = status_when(driver, "Error")
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "/srv/models" not in page and "Traceback" not in page and "RuntimeError" not in page
        assert "Internal error" in status and not driver.find_element(By.ID, "up").is_displayed()


def test_the_answer_appears_piece_by_piece(driver: WebDriver, tmp_path: Path) -> None:
    with chat_page(driver, fake_parts(tmp_path, DrippingModel(cite_first_source))):
        ask(driver, QUESTION)

        def partial(d: WebDriver) -> list[object] | bool:
            text, status, busy = d.execute_script(
                "const [answer, status, send] = ['answer', 'status', 'send'].map((id) => $(id));"
                "return [answer.textContent, status.textContent, send.disabled];"
            )
            return [text, status, busy] if text and not status.startswith("Answered") else False

        seen, status_then, send_disabled = WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(partial)
        status_when(driver, "Answered in")
        final = answer_text(driver)
    assert status_then == "Thinking…" and send_disabled
    assert isinstance(seen, str) and final.startswith(seen) and len(seen) < len(final)


def test_an_unreachable_service_shows_an_error_instead_of_thinking_forever(
    driver: WebDriver, tmp_path: Path
) -> None:
    with chat_page(driver, fake_parts(tmp_path)):
        pass  # the page stays open after its service has stopped
    ask(driver, QUESTION)
    assert "did not arrive" in status_when(driver, "Error")
    WebDriverWait(driver, WAIT_S).until(ec.element_to_be_clickable((By.ID, "send")))
