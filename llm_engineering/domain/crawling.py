"""What a crawl is told to do and what it reports back, plus which crawler takes which link."""

import re
from collections import Counter
from enum import StrEnum
from pathlib import PurePath
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, computed_field

from llm_engineering.domain.exceptions import UnsupportedLinkError


class CrawlConfig(BaseModel):
    """Tunables shared by every crawler."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    http_timeout_s: float = Field(20.0, gt=0, description="Timeout of one HTTP request.")
    http_retries: int = Field(3, ge=0, description="Retries after a timeout, 429 or 5xx.")
    http_backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")
    user_agent: str = Field(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        description="User agent sent by the HTTP and browser crawlers.",
    )
    max_page_bytes: int = Field(5_000_000, gt=0, description="Larger pages fail instead of loading.")
    max_file_bytes: int = Field(200_000, gt=0, description="Repository files above this are skipped.")
    git_timeout_s: float = Field(120.0, gt=0, description="Limit for one `git clone`.")
    browser_timeout_s: float = Field(30.0, gt=0, description="Page load and content wait limit.")
    max_scrolls: int = Field(30, ge=0, description="Scrolls before a page counts as fully loaded.")
    scroll_settle_s: float = Field(
        1.5, gt=0, description="How long a scroll may take to load more before the page counts as complete."
    )


class LinkStatus(StrEnum):
    STORED = "stored"
    SKIPPED = "skipped"
    FAILED = "failed"


class LinkOutcome(BaseModel):
    """What happened to one crawled link.

    A link may hold many documents (an export), so `stored` and `skipped` count
    documents; `status` sums them up: failed, else stored if anything new, else skipped.
    """

    model_config = ConfigDict(frozen=True)

    link: str
    crawler: str
    status: LinkStatus
    stored: int = 0
    skipped: int = 0
    reason: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def domain(self) -> str:
        return link_domain(self.link)


class CrawlReport(BaseModel):
    """Outcomes of every link of one ETL run."""

    model_config = ConfigDict(frozen=True)

    outcomes: list[LinkOutcome] = Field(default_factory=list)

    @property
    def failure_rate(self) -> float:
        if not self.outcomes:
            return 0.0
        return sum(o.status is LinkStatus.FAILED for o in self.outcomes) / len(self.outcomes)

    @property
    def documents_stored(self) -> int:
        return sum(o.stored for o in self.outcomes)

    def per_domain(self) -> dict[str, dict[str, int]]:
        """Counts of links by status and of documents stored, per domain."""
        summary: dict[str, Counter[str]] = {}
        for outcome in self.outcomes:
            counts = summary.setdefault(outcome.domain, Counter())
            counts[outcome.status.value] += 1
            counts["documents_stored"] += outcome.stored
            counts["documents_skipped"] += outcome.skipped
        return {domain: dict(counts) for domain, counts in summary.items()}

    def failures(self) -> dict[str, str]:
        """Reason of every failed link, by link."""
        return {o.link: o.reason or "" for o in self.outcomes if o.status is LinkStatus.FAILED}


def link_domain(link: str) -> str:
    """The host of a web link, the scheme of an export or local link, or "malformed"; never raises.

    >>> link_domain("https://www.medium.com/@iris/x"), link_domain("folder:notes"), link_domain("http://[::1/x")
    ('medium.com', 'folder', 'malformed')
    """
    try:
        parts = urlsplit(link)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host; the link's outcome says what is wrong
        return "malformed"
    host = (parts.hostname or "").removeprefix("www.")
    return host or parts.scheme or "local"


def link_problem(link: str) -> str | None:
    """What is wrong with a link, naming it, or None when a crawler can take it.

    >>> link_problem("http://[::1/post")
    "'http://[::1/post' is not a well-formed URL (Invalid IPv6 URL); fix or remove it."
    """
    link = link.strip()
    if not link:
        return "An empty link; remove it from `links`."
    problem = url_problem(link) if WEB_LINK.match(link) else None
    if problem:
        return f"{link!r} {problem}; fix or remove it."
    try:
        crawler_name_for(link)
    except UnsupportedLinkError as error:
        return str(error)
    return None


def url_problem(url: str) -> str | None:
    """Why a `scheme://` link cannot be fetched as written, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- parsing the port is what finds one that is not a number
    except ValueError as error:
        return f"is not a well-formed URL ({error})"
    # Local paths may hold spaces; a web address percent-encodes them (two links on one line land here too).
    if parts.scheme != "file" and re.search(r"\s", url):
        return "has whitespace inside (write a space as %20, one link per list item)"
    if parts.scheme in ("http", "https") and not parts.hostname:
        return "names no host"
    return None


# A link with a network location (web, git, file URLs) rather than a prefixed local path.
WEB_LINK = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

# Checked in order; the first match picks the crawler. Exports and folders are
# named by an explicit prefix because their paths look alike.
LINK_PATTERNS: dict[str, str] = {
    r"^medium-export:": "medium_export",
    r"^linkedin-export:": "linkedin_export",
    r"^substack-export:": "substack_export",
    r"^folder:": "folder",
    r"^https?://([\w-]+\.)?linkedin\.com/": "linkedin",
    r"^https?://([\w-]+\.)?medium\.com/": "medium",
    r"^https?://(www\.)?(github|gitlab|codeberg)\.(com|org)/[\w.-]+/[\w.-]+/?$": "git",
    r"^(git@|git://|ssh://|file://)|\.git/?$": "git",
    r"^(/|\./|\.\./|~/)": "git",  # a local path is a git repository unless prefixed above
    r"^https?://": "article",
}


def crawler_name_for(link: str) -> str:
    """Name of the crawler that handles `link`.

    >>> crawler_name_for("https://github.com/iris/pipelines")
    'git'
    """
    for pattern, name in LINK_PATTERNS.items():
        if re.search(pattern, link):
            return name
    raise UnsupportedLinkError(
        f"No crawler handles {link!r}. Use an http(s) URL, a git URL (git@…, file://…, …/repo.git), "
        "or prefix a local export with medium-export:, linkedin-export:, substack-export: or folder:."
    )


# Stands for the data folder (DATA_DIR, ./data by default) in a run config's links, for what `build-samples`
# builds there. Without braces on purpose: ZenML fills `${NAME}` from the environment alone, and fails when
# DATA_DIR is unset or only in `.env`, which the settings read.
DATA_DIR_PLACEHOLDER = "$DATA_DIR"


def in_data_dir(links: list[str], data_dir: PurePath) -> list[str]:
    """The links with `$DATA_DIR` replaced by `data_dir`, which must be absolute (a bare relative path would
    not read as a local git repository).

    >>> in_data_dir(["medium-export:$DATA_DIR/samples/medium-export.zip"], PurePath("/srv/twin"))
    ['medium-export:/srv/twin/samples/medium-export.zip']
    """
    if not data_dir.is_absolute():
        raise ValueError(f"The data folder {data_dir} must be absolute; pass it resolved.")
    return [link.replace(DATA_DIR_PLACEHOLDER, str(data_dir)) for link in links]
