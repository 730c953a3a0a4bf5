"""The chat page in a real headless Chromium against the service on localhost, built from fakes."""

import dataclasses
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID, uuid5

import httpx
import pytest
from pydantic import SecretStr
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.application.ports import VectorPoint
from llm_engineering.application.retrieval import HybridReranker, Retriever
from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.dialogue import title_from_link
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS, Chunk
from llm_engineering.infrastructure.api.app import ServiceLimits
from llm_engineering.infrastructure.api.service import TwinParts
from llm_engineering.infrastructure.crawlers.browser import BrowserPaths, headless_chromium
from tests.support import rag
from tests.support.fakes import HashingEmbedder, InMemoryVectorIndex, ScriptedChatModel
from tests.support.service import (
    ConversationRecorder,
    HeldModel,
    StreamingScriptedModel,
    cite_first_source,
    fake_parts,
    running,
)

pytestmark = pytest.mark.browser

QUESTION = "How does Iris Calder chunk documents?"
FOLLOW_UP = "And why does she keep that overlap?"
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
def chat_page(driver: WebDriver, parts: TwinParts, limits: ServiceLimits | None = None) -> Iterator[str]:
    """Serve `parts` on a fresh port (a fresh origin, so no stored key), open the page; yields its URL."""
    with running(lambda: parts, limits) as url:
        driver.get(f"{url}/")
        yield url


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


def turns(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#conversation > li")


def answered(driver: WebDriver, count: int = 1) -> WebElement:
    """Wait until `count` turns hold a finished answer; returns the last of them."""

    def done(d: WebDriver) -> WebElement | bool:
        finished = d.find_elements(By.CSS_SELECTOR, "#conversation > li[data-answer-id]")
        return finished[-1] if len(finished) >= count else False

    return WebDriverWait(driver, WAIT_S).until(done)  # type: ignore[no-any-return]


def text_of(turn: WebElement, part: str) -> str:
    return turn.find_element(By.CLASS_NAME, part).get_property("textContent")  # type: ignore[no-any-return]


def verdict(turn: WebElement, rating: str) -> WebElement:
    return turn.find_element(By.CSS_SELECTOR, f".verdict[data-rating='{rating}']")


def count_feedback_posts(driver: WebDriver) -> None:
    """Make the page count the feedback requests it sends, in `window.feedbackPosts`."""
    driver.execute_script(
        "window.feedbackPosts = 0; const send = window.fetch;"
        "window.fetch = (url, options) => { if (String(url).endsWith('feedback')) window.feedbackPosts++;"
        " return send(url, options); };"
    )


def test_a_question_gets_a_streamed_answer_with_sources_and_rating_buttons(
    driver: WebDriver, tmp_path: Path
) -> None:
    parts = fake_parts(tmp_path)
    with chat_page(driver, parts):
        ask(driver, QUESTION)
        turn = answered(driver)
        assert status_when(driver, "Answered in").endswith(" s")
        trace = parts.monitoring.get_trace(turn.get_attribute("data-answer-id"))
        assert trace is not None and trace.endpoint == "/rag/stream"
        assert text_of(turn, "question") == QUESTION
        assert text_of(turn, "answer") == trace.answer
        assert trace.answer.startswith("As I wrote: I chunk documents by paragraph")
        links = [a.get_attribute("href") for a in turn.find_elements(By.CSS_SELECTOR, ".sources a")]
        assert "https://example.org/iris/0" in links
        assert not turn.find_element(By.CLASS_NAME, "notes").is_displayed()  # nothing was cut or redacted
        assert driver.find_element(By.ID, "question").get_property("value") == ""


def test_the_rating_buttons_render_without_an_emoji_font_and_have_names(
    driver: WebDriver, tmp_path: Path
) -> None:
    with chat_page(driver, fake_parts(tmp_path)):
        ask(driver, QUESTION)
        turn = answered(driver)
        for rating, name in (("up", "Good answer"), ("down", "Bad answer")):
            button = verdict(turn, rating)
            icon = button.find_element(By.TAG_NAME, "svg")
            assert button.is_displayed() and button.accessible_name == name
            assert button.rect["width"] > 0 and icon.rect["width"] > 0 and icon.rect["height"] > 0
            assert button.get_attribute("aria-pressed") == "false"
            assert button.text in ("Good", "Bad")  # plain text next to the icon; no emoji to render


def test_one_verdict_per_answer_is_stored_and_shown(driver: WebDriver, tmp_path: Path) -> None:
    parts = fake_parts(tmp_path)
    with chat_page(driver, parts):
        ask(driver, QUESTION)
        turn = answered(driver)
        count_feedback_posts(driver)
        verdict(turn, "up").click()
        status_when(driver, "Thanks for the feedback.")
        verdict(turn, "down").click()
        [stored] = list(parts.monitoring.iter_feedback())
        assert (stored.answer_id, stored.rating) == (turn.get_attribute("data-answer-id"), "up")
        assert driver.execute_script("return window.feedbackPosts;") == 1
        assert verdict(turn, "up").get_attribute("aria-pressed") == "true"
        assert verdict(turn, "down").get_attribute("aria-pressed") == "false"
        assert verdict(turn, "down").get_attribute("aria-disabled") == "true"


def test_a_thumbs_down_with_a_correction_is_stored(driver: WebDriver, tmp_path: Path) -> None:
    parts = fake_parts(tmp_path)
    correction = "I chunk by section first, then by paragraph."
    with chat_page(driver, parts):
        ask(driver, QUESTION)
        turn = answered(driver)
        turn.find_element(By.CLASS_NAME, "correction").send_keys(correction)
        verdict(turn, "down").click()
        status_when(driver, "Thanks for the feedback.")
        [stored] = list(parts.monitoring.iter_feedback())
        assert parts.monitoring.get_trace(stored.answer_id) is not None
        assert (stored.answer_id, stored.rating, stored.correction) == (
            turn.get_attribute("data-answer-id"),
            "down",
            correction,
        )


def test_a_follow_up_reaches_the_model_with_the_conversation_and_both_turns_show(
    driver: WebDriver, tmp_path: Path
) -> None:
    model = ConversationRecorder()
    with chat_page(driver, fake_parts(tmp_path, model)):
        ask(driver, QUESTION)
        first_answer = text_of(answered(driver), "answer")
        ask(driver, FOLLOW_UP)
        answered(driver, 2)
        shown = [(text_of(turn, "question"), text_of(turn, "answer")) for turn in turns(driver)]
    asked = model.conversations[-1]
    assert [m.role for m in asked] == ["system", "user", "assistant", "user"]
    assert (asked[1].content, asked[2].content) == (QUESTION, first_answer)
    assert asked[3].content.endswith(f"Question: {FOLLOW_UP}")
    assert [question for question, _ in shown] == [QUESTION, FOLLOW_UP]
    assert all(answer.startswith("As I wrote:") for _, answer in shown)


def test_a_new_conversation_clears_the_view_and_the_history(driver: WebDriver, tmp_path: Path) -> None:
    model = ConversationRecorder()
    with chat_page(driver, fake_parts(tmp_path, model)):
        ask(driver, QUESTION)
        answered(driver)
        driver.find_element(By.ID, "new").click()
        assert turns(driver) == [] and driver.find_element(By.ID, "status").text == ""
        ask(driver, FOLLOW_UP)
        answered(driver)
        assert len(turns(driver)) == 1
    assert [m.role for m in model.conversations[-1]] == ["system", "user"]


CHUNKED_LINK = "https://example.org/iris/chunking-by-paragraph"


def two_chunk_document_parts(tmp_path: Path, model: ScriptedChatModel) -> TwinParts:
    """The fake corpus plus one article whose two chunks both reach the prompt."""
    index, embedder = InMemoryVectorIndex(), HashingEmbedder()
    rag.fill(index, embedder)
    document = uuid5(rag.NAMESPACE, "paragraph-chunking")
    chunks = [
        Chunk(
            document_id=document,
            chunk_index=n,
            section="",
            content=text,
            category=DataCategory.ARTICLES,
            platform="blog",
            author_id=UUID(rag.AUTHORS["Iris Calder"]),
            author_full_name="Iris Calder",
            link=CHUNKED_LINK,
        )
        for n, text in enumerate(["I chunk documents by paragraph.", "Chunk documents with overlap."])
    ]
    collection = EMBEDDED_COLLECTIONS[DataCategory.ARTICLES]
    for chunk, vector in zip(chunks, embedder.embed([c.content for c in chunks]), strict=True):
        index.upsert(collection, [VectorPoint(id=chunk.id, payload=chunk.payload(), vector=vector)])
    parts = fake_parts(tmp_path, model)
    retrieval = parts.config.retrieval.model_copy(update={"top_k": 4})
    retriever = Retriever(index, embedder, HybridReranker(), None, rag.authors, retrieval)
    return dataclasses.replace(
        parts, retriever=retriever, config=parts.config.model_copy(update={"retrieval": retrieval})
    )


def test_each_source_document_is_listed_once_with_its_title(driver: WebDriver, tmp_path: Path) -> None:
    model = ConversationRecorder()
    with chat_page(driver, two_chunk_document_parts(tmp_path, model)):
        ask(driver, QUESTION)
        turn = answered(driver)
        items = [item.text for item in turn.find_elements(By.CSS_SELECTOR, ".sources li")]
        links = [a.get_attribute("href") for a in turn.find_elements(By.CSS_SELECTOR, ".sources a")]
    prompt = model.conversations[-1][-1].content
    assert "I chunk documents by paragraph." in prompt and "Chunk documents with overlap." in prompt
    documents = re.findall(r"^\[(\d+)\] (\S+)$", prompt, re.MULTILINE)  # one passage block per document
    assert [link for _, link in documents].count(CHUNKED_LINK) == 1 and len(documents) > 1
    assert links == [link for _, link in documents]
    assert items == [f"[{n}] {title_from_link(link)}" for n, link in documents]
    assert f"[{links.index(CHUNKED_LINK) + 1}] Chunking by paragraph" in items


def test_an_answer_cut_at_the_length_limit_says_so(driver: WebDriver, tmp_path: Path) -> None:
    model = ConversationRecorder()
    model.finish_reason = "length"
    with chat_page(driver, fake_parts(tmp_path, model)):
        ask(driver, QUESTION)
        turn = answered(driver)
        assert "Cut short" in turn.find_element(By.CLASS_NAME, "notes").text


def test_a_busy_service_shows_when_to_retry(driver: WebDriver, tmp_path: Path) -> None:
    model = HeldModel()
    parts = fake_parts(tmp_path, model, max_queue=1)
    with chat_page(driver, parts) as url:
        holder = threading.Thread(
            target=lambda: httpx.post(f"{url}/rag/stream", json={"query": QUESTION}, timeout=WAIT_S)
        )
        holder.start()
        try:
            WebDriverWait(driver, WAIT_S).until(
                lambda _: "twin_requests_in_flight 1.0" in httpx.get(f"{url}/metrics").text
            )
            ask(driver, QUESTION)
            status = status_when(driver, "The service is busy")
        finally:
            model.release.set()
            holder.join()
        assert "retry in 1 s" in status
        assert turns(driver) == []  # not asked: the question waits in the field to be sent again
        assert driver.find_element(By.ID, "question").get_property("value") == QUESTION


def test_the_api_key_field_unlocks_a_guarded_service(driver: WebDriver, tmp_path: Path) -> None:
    limits = ServiceLimits(api_key=SecretStr("s3cret-key"))
    with chat_page(driver, fake_parts(tmp_path), limits):
        ask(driver, QUESTION)
        assert "401" in status_when(driver, "Error")
        assert turns(driver) == []
        driver.find_element(By.CSS_SELECTOR, "details summary").click()
        WebDriverWait(driver, WAIT_S).until(ec.visibility_of_element_located((By.ID, "key"))).send_keys(
            "s3cret-key"
        )
        ask(driver, QUESTION)
        assert text_of(answered(driver), "answer").startswith("As I wrote:")


def test_a_failing_model_shows_an_error_without_internals(driver: WebDriver, tmp_path: Path) -> None:
    def broken(user: str, attempt: int) -> str:
        raise RuntimeError("secret path /srv/models/twin exploded")

    with chat_page(driver, fake_parts(tmp_path, ScriptedChatModel(broken))):
        ask(driver, QUESTION)
        status = status_when(driver, "Error")
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "/srv/models" not in page and "Traceback" not in page and "RuntimeError" not in page
        [turn] = turns(driver)
        assert "Internal error" in status and not turn.find_element(By.CLASS_NAME, "rate").is_displayed()


def test_the_answer_appears_piece_by_piece(driver: WebDriver, tmp_path: Path) -> None:
    with chat_page(driver, fake_parts(tmp_path, DrippingModel(cite_first_source))):
        ask(driver, QUESTION)

        def partial(d: WebDriver) -> list[object] | bool:
            text, status, busy = d.execute_script(
                "const answer = document.querySelector('#conversation > li:last-child .answer');"
                "return [answer ? answer.textContent : '', $('status').textContent, $('send').disabled];"
            )
            return [text, status, busy] if text and not status.startswith("Answered") else False

        seen, status_then, send_disabled = WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(partial)
        final = text_of(answered(driver), "answer")
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
