"""fetch_html against a real local server: retries, timeouts, content types, size limits, bad URLs."""

import socket
import time

import httpx
import pytest

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.http import fetch_html
from tests.support.http_server import LocalServer, Route


def test_fetches_html_and_sends_the_configured_user_agent(server: LocalServer, config: CrawlConfig) -> None:
    server["/post"] = (200, "text/html; charset=utf-8", "<h1>Caf\u00e9 notes</h1>")
    page = fetch_html(server.url("/post"), config.model_copy(update={"user_agent": "TwinTest/1.0"}))
    assert page.status == 200
    assert page.content_type == "text/html"
    assert "Caf\u00e9 notes" in page.html
    assert server.requests["/post"] == 1
    assert server.headers["/post"]["User-Agent"] == "TwinTest/1.0"


def test_follows_redirects_and_reports_the_final_url(server: LocalServer, config: CrawlConfig) -> None:
    server["/old"] = Route(status=301, headers={"Location": "/new"})
    server["/new"] = (200, "text/html", "<p>moved here</p>")
    page = fetch_html(server.url("/old"), config)
    assert page.url == server.url("/new")
    assert "moved here" in page.html


def test_uses_the_meta_charset_when_the_header_has_none(server: LocalServer, config: CrawlConfig) -> None:
    body = '<meta charset="windows-1252"><p>na\u00efve</p>'.encode("windows-1252")
    server["/legacy"] = (200, "text/html", body)
    assert "na\u00efve" in fetch_html(server.url("/legacy"), config).html


def test_a_missing_page_fails_at_once_with_the_reason(server: LocalServer, config: CrawlConfig) -> None:
    with pytest.raises(CrawlError, match=r"HTTP 404 .*/gone: the page does not exist; check the link"):
        fetch_html(server.url("/gone"), config)
    assert server.requests["/gone"] == 1  # a 4xx is not retried


def test_a_failing_server_is_retried_then_reported(server: LocalServer, config: CrawlConfig) -> None:
    server["/broken"] = (500, "text/html", "<h1>Internal error</h1>")
    with pytest.raises(CrawlError, match=r"HTTP 500 .*gave up after 3 attempts"):
        fetch_html(server.url("/broken"), config)
    assert server.requests["/broken"] == config.http_retries + 1


def test_a_transient_503_is_retried_until_it_succeeds(server: LocalServer, config: CrawlConfig) -> None:
    server["/flaky"] = Route(body="<p>finally</p>", fail_first=2)
    page = fetch_html(server.url("/flaky"), config)
    assert "finally" in page.html
    assert server.requests["/flaky"] == 3


def test_rate_limiting_is_retried(server: LocalServer, config: CrawlConfig) -> None:
    server["/limited"] = (429, "text/html", "slow down")
    with pytest.raises(CrawlError, match="HTTP 429"):
        fetch_html(server.url("/limited"), config)
    assert server.requests["/limited"] == 3


def test_a_slow_server_times_out_without_waiting_for_it(server: LocalServer) -> None:
    server["/slow"] = Route(body="<p>late</p>", delay_s=3.0)
    config = CrawlConfig(http_timeout_s=0.2, http_retries=1, http_backoff_s=0.0)
    started = time.monotonic()
    with pytest.raises(CrawlError, match=r"Timed out after 0.2s .*gave up after 2 attempts"):
        fetch_html(server.url("/slow"), config)
    assert time.monotonic() - started < 2.0
    assert server.requests["/slow"] == 2


def test_a_closed_port_fails_with_a_reason(config: CrawlConfig) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, so nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CrawlError, match=r"Could not reach http://127.0.0.1:\d+/x"):
        fetch_html(f"http://127.0.0.1:{port}/x", config.model_copy(update={"http_retries": 0}))


@pytest.mark.parametrize("content_type", ["application/pdf", "image/png"])
def test_non_html_content_is_refused(server: LocalServer, config: CrawlConfig, content_type: str) -> None:
    server["/file"] = (200, content_type, b"%PDF-1.7 \x00\x01")
    with pytest.raises(CrawlError, match=f"is {content_type}, not an HTML page"):
        fetch_html(server.url("/file"), config)


def test_a_huge_page_without_length_is_cut_off_early(server: LocalServer, config: CrawlConfig) -> None:
    huge = 200_000_000
    server["/huge"] = Route(body="<html><body>", filler_bytes=huge, send_length=False)
    started = time.monotonic()
    with pytest.raises(CrawlError, match="larger than max_page_bytes=100,000"):
        fetch_html(server.url("/huge"), config.model_copy(update={"max_page_bytes": 100_000}))
    assert time.monotonic() - started < 5.0
    time.sleep(0.2)  # let the server notice the closed connection
    assert server.bytes_sent["/huge"] < huge // 10


def test_a_declared_huge_page_is_refused_before_its_body(server: LocalServer, config: CrawlConfig) -> None:
    server["/huge"] = Route(body="<html>", filler_bytes=50_000_000)
    with pytest.raises(CrawlError, match=r"declares 50,000,006 bytes"):
        fetch_html(server.url("/huge"), config.model_copy(update={"max_page_bytes": 1_000}))


@pytest.mark.parametrize(
    "url", ["not a url", "example.com/post", "ftp://example.com/post", "http://", "http://[::1/post"]
)
def test_a_malformed_url_fails_clearly(config: CrawlConfig, url: str) -> None:
    with pytest.raises(CrawlError, match="Malformed URL"):
        fetch_html(url, config)


def test_a_given_client_is_used_and_left_open(server: LocalServer, config: CrawlConfig) -> None:
    server["/a"] = (200, "text/html", "<p>a</p>")
    with httpx.Client() as client:
        fetch_html(server.url("/a"), config, client)
        fetch_html(server.url("/a"), config, client)
        assert not client.is_closed
    assert server.requests["/a"] == 2


# Served as text/html all the same.
BINARY_BODIES = {
    "control bytes": (
        bytes(range(32)) * 1600,
        r"binary data \(43,200 of its 51,200 bytes are control bytes\)",
    ),
    "PDF": (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n", "a PDF document"),
    "ZIP": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", r"a ZIP archive"),
    "PNG": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
    "GIF": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", "a GIF image"),
    "JPEG": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "a JPEG image"),
    "NUL bytes in text": (b"<html><body><p>caf\x00e</p></body></html>", "binary data"),
}


@pytest.mark.parametrize("name", BINARY_BODIES)
def test_a_binary_body_served_as_html_is_refused(server: LocalServer, config: CrawlConfig, name: str) -> None:
    body, looks_like = BINARY_BODIES[name]
    server["/post"] = (200, "text/html; charset=utf-8", body)
    with pytest.raises(CrawlError, match=rf"/post is served as a web page but looks like {looks_like}"):
        fetch_html(server.url("/post"), config)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("\ufeff<p>Caf\u00e9 \u2014 wide</p>".encode("utf-16-le"), "Caf\u00e9 \u2014 wide"),
        ('<meta charset="iso-2022-jp"><p>\u65e5\u672c\u8a9e</p>'.encode("iso-2022-jp"), "\u65e5\u672c\u8a9e"),
    ],
    ids=["utf-16 with a byte-order mark", "iso-2022-jp, which uses ESC"],
)
def test_text_in_wide_or_escaped_encodings_is_still_text(
    server: LocalServer, config: CrawlConfig, body: bytes, text: str
) -> None:
    server["/post"] = (200, "text/html", body)
    assert text in fetch_html(server.url("/post"), config).html


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("windows-1252", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e"),
        ("utf-8", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e"),
        ("utf-8", "\u041f\u0440\u0438\u0432\u0435\u0442, \u4e16\u754c \u2014 \u201cquoted\u201d"),
    ],
)
def test_an_undeclared_charset_is_detected(
    server: LocalServer, config: CrawlConfig, encoding: str, text: str
) -> None:
    page = f"<html><head><title>Dessert</title></head><body><article><h1>{text}</h1><p>{text}</p></article>"
    server["/post"] = (200, "text/html", f"{page}</body></html>".encode(encoding))
    assert fetch_html(server.url("/post"), config).html.count(text) == 2


def test_valid_utf8_wins_over_a_stale_meta_charset(server: LocalServer, config: CrawlConfig) -> None:
    server["/post"] = (200, "text/html", '<meta charset="iso-8859-1"><p>na\u00efve</p>'.encode())
    assert "na\u00efve" in fetch_html(server.url("/post"), config).html
