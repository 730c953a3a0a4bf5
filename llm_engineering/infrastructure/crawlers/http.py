"""Fetching one HTML page over HTTP: retries on transient failures, refuses what is not a web page."""

import codecs
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import charset_normalizer
import httpx
from bs4.dammit import EncodingDetector
from loguru import logger

from llm_engineering.domain.crawling import CrawlConfig
from llm_engineering.domain.exceptions import CrawlError

HTML_TYPES = ("text/html", "application/xhtml+xml")
STATUS_HINTS = {
    401: "the page needs a login; public pages only, or use a platform export",
    403: "the site refused access; it may block crawlers, so try a platform export",
    404: "the page does not exist; check the link",
    410: "the page was removed; drop the link",
}
# What a body that is no text starts with, whatever its Content-Type says.
FILE_SIGNATURES = {
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or a DOCX/EPUB file)",
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"GIF87a": "a GIF image",
    b"GIF89a": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "gzip-compressed data",
}
# Bytes that never occur in text (the WHATWG's "binary data bytes"; ESC is not one, ISO-2022-JP uses it).
CONTROL_BYTES = bytes((*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)))
MAX_CONTROL_SHARE = 0.01


@dataclass(frozen=True)
class FetchedPage:
    """An HTML page as served: the final URL after redirects and the decoded markup."""

    url: str
    status: int
    content_type: str
    html: str


class _TransientError(Exception):
    """A failure worth retrying (timeout, dropped connection, 429, 5xx); `reason` is for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fetch_html(url: str, config: CrawlConfig, client: httpx.Client | None = None) -> FetchedPage:
    """GET an HTML page, retrying transient failures with exponential backoff; raise CrawlError otherwise."""
    check_url(url)
    if client is None:
        with httpx.Client(follow_redirects=True) as own_client:
            return _fetch_with_retries(url, config, own_client)
    return _fetch_with_retries(url, config, client)


def check_url(url: str) -> None:
    """Refuse a URL that is not an absolute http(s) address with a host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as error:
        raise CrawlError(
            f"Malformed URL {url!r}: {error}. Use a full address like https://example.com/post."
        ) from error
    if parts.scheme not in ("http", "https") or not host:
        raise CrawlError(
            f"Malformed URL {url!r}: expected an absolute http(s) address like https://example.com/post."
        )


def _fetch_with_retries(url: str, config: CrawlConfig, client: httpx.Client) -> FetchedPage:
    attempts = config.http_retries + 1
    for attempt in range(attempts):
        try:
            return _fetch_once(url, config, client)
        except _TransientError as error:
            if attempt == attempts - 1:
                raise CrawlError(f"{error.reason} (gave up after {attempts} attempts)") from error
            delay = config.http_backoff_s * 2**attempt
            logger.info("{}; retrying in {:.2f}s ({}/{})", error.reason, delay, attempt + 1, attempts - 1)
            time.sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")


def _fetch_once(url: str, config: CrawlConfig, client: httpx.Client) -> FetchedPage:
    headers = {"User-Agent": config.user_agent, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"}
    try:
        with client.stream("GET", url, headers=headers, timeout=config.http_timeout_s) as response:
            _check_status(response)
            content_type = _check_content_type(response)
            body = _read_limited(response, config.max_page_bytes)
            _check_is_text(body, str(response.url))
            return FetchedPage(str(response.url), response.status_code, content_type, _decode(response, body))
    except httpx.TimeoutException as error:
        raise _TransientError(
            f"Timed out after {config.http_timeout_s}s fetching {url} ({type(error).__name__})"
        ) from error
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise CrawlError(f"Malformed URL {url!r}: {error}") from error
    except httpx.TransportError as error:
        raise _TransientError(f"Could not reach {url}: {error or type(error).__name__}") from error
    except httpx.HTTPError as error:  # e.g. too many redirects: not worth retrying
        raise CrawlError(f"Fetching {url} failed: {error or type(error).__name__}") from error


def _check_status(response: httpx.Response) -> None:
    status, url = response.status_code, response.url
    if status == 429 or status >= 500:
        raise _TransientError(f"HTTP {status} for {url}: the server is busy or failing")
    if status >= 400:
        hint = STATUS_HINTS.get(status, "the server refused the request; check the link")
        raise CrawlError(f"HTTP {status} for {url}: {hint}")


def _check_content_type(response: httpx.Response) -> str:
    # A missing header is allowed: some small servers omit it for HTML.
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type and media_type not in HTML_TYPES:
        raise CrawlError(
            f"{response.url} is {media_type}, not an HTML page; link to the article's web page instead"
        )
    return media_type or "text/html"


def _read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    """Read the body, stopping as soon as it passes `max_bytes` so a huge page never fills memory."""
    too_big = f"{response.url} is larger than max_page_bytes={max_bytes:,}; raise the limit or skip the page"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise CrawlError(f"{too_big} (it declares {int(declared):,} bytes)")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise CrawlError(too_big)
        chunks.append(chunk)
    return b"".join(chunks)


def _check_is_text(body: bytes, url: str) -> None:
    """Refuse a body that is a file rather than text: a known file signature, NUL or many control bytes."""
    if EncodingDetector.strip_byte_order_mark(body)[1] in ("utf-16le", "utf-16be", "utf-32le", "utf-32be"):
        return  # wide text: NUL bytes are half its letters
    looks_like = next((kind for magic, kind in FILE_SIGNATURES.items() if body.startswith(magic)), None)
    control = len(body) - len(body.translate(None, CONTROL_BYTES))
    if looks_like is None and (b"\x00" in body[:8000] or control > MAX_CONTROL_SHARE * len(body)):
        looks_like = f"binary data ({control:,} of its {len(body):,} bytes are control bytes)"
    if looks_like:
        raise CrawlError(
            f"{url} is served as a web page but looks like {looks_like}, not text; "
            "link to the article's web page instead"
        )


def _decode(response: httpx.Response, body: bytes) -> str:
    """Decode with the charset the server or a byte-order mark declares, else as UTF-8 when non-ASCII bytes
    form valid UTF-8 (a stale <meta> may say otherwise), else by the page's <meta charset>, else detected."""
    bom = EncodingDetector.strip_byte_order_mark(body)[1]
    declared = _codec(response.charset_encoding or bom, response.url)
    if declared:
        return body.decode(declared, errors="replace").removeprefix("\ufeff")
    try:
        utf8: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    if utf8 is not None and not body.isascii():
        return utf8
    meta = _codec(EncodingDetector.find_declared_encoding(body, is_html=True), response.url)
    if meta:  # pure ASCII may still be a 7-bit encoding such as ISO-2022-JP
        return body.decode(meta, errors="replace")
    return utf8 if utf8 is not None else body.decode(_detect_charset(body), errors="replace")


def _codec(charset: str | None, url: httpx.URL) -> str | None:
    """Python's codec for a declared charset; None, with a warning, for one it does not know."""
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        logger.warning("{} declares an unknown charset {!r}; guessing", url, charset)
        return None


def _detect_charset(body: bytes) -> str:
    """The charset charset-normalizer finds, preferring windows-1252 among equally good fits.

    Short Latin text fits several single-byte code pages equally well ("Café crème" is valid
    windows-1250 and -1257 too); windows-1252 is what browsers assume for an unlabelled page.
    """
    matches = charset_normalizer.from_bytes(body)
    best = matches.best()
    if best is None:
        return "cp1252"
    tied = [m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    return "cp1252" if "cp1252" in tied else best.encoding
