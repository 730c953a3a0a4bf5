"""The ETL use case: crawl an author's links into the warehouse, one outcome per link."""

from collections.abc import Callable
from uuid import UUID

from loguru import logger

from llm_engineering.application.ports import Crawler, DocumentStore, InsertOutcome
from llm_engineering.domain.crawling import (
    CrawlReport,
    LinkOutcome,
    LinkStatus,
    crawler_name_for,
    link_problem,
)
from llm_engineering.domain.documents import UserDocument, name_key, split_full_name
from llm_engineering.domain.exceptions import FailureRateExceededError, TwinError

CrawlerLookup = Callable[[str], Crawler]


def get_or_create_user(store: DocumentStore, full_name: str, user_id: UUID | None = None) -> UserDocument:
    """The author to crawl for, created on first use: by name, or by `user_id` to keep namesakes apart.

    Names match ignoring case and spacing, and the spelling first stored is kept. An id already stored
    under another name is refused, since the run config would then name someone else.
    """
    first_name, last_name = split_full_name(full_name)
    if user_id is None:
        return store.get_or_create_user(first_name, last_name)
    user = store.get_user(user_id)
    if user is None:
        user = UserDocument(id=user_id, first_name=first_name, last_name=last_name)
        store.upsert_user(user)
    elif user.name_key != name_key(full_name):
        raise TwinError(
            f"user_id {user_id} is the author {user.full_name!r}, not {full_name!r}. Fix user_full_name "
            "or user_id in the run config; leave user_id out to find or create the author by name."
        )
    return user


def crawl_link(
    link: str, author: UserDocument, crawler_for: CrawlerLookup, store: DocumentStore
) -> LinkOutcome:
    """Crawl one link and store what is new; any error becomes a failed outcome with its reason."""
    link = link.strip()
    # Checked before anything parses the link, so a malformed one fails alone with a reason naming it.
    problem = link_problem(link)
    if problem is not None:
        return LinkOutcome(link=link, crawler="none", status=LinkStatus.FAILED, reason=problem)
    name = crawler_name_for(link)
    if store.link_exists(link):
        return LinkOutcome(link=link, crawler=name, status=LinkStatus.SKIPPED, skipped=1)
    try:
        documents = crawler_for(name).crawl(link, author)
    except Exception as error:  # the per-link boundary: every failure is recorded, none is lost
        # The reason is logged on one line by crawl_links; the traceback only helps when debugging a crawler.
        logger.opt(exception=error).debug("Crawling {} failed", link)
        reason = str(error) or type(error).__name__
        return LinkOutcome(link=link, crawler=name, status=LinkStatus.FAILED, reason=reason)
    outcomes = [store.insert(document) for document in documents]
    stored = outcomes.count(InsertOutcome.STORED)
    status = LinkStatus.STORED if stored else LinkStatus.SKIPPED
    return LinkOutcome(link=link, crawler=name, status=status, stored=stored, skipped=len(outcomes) - stored)


def crawl_links(
    links: list[str], author: UserDocument, crawler_for: CrawlerLookup, store: DocumentStore
) -> CrawlReport:
    """Crawl every link in turn, logging one line per link; never stops early on a failed link."""
    outcomes = []
    for index, link in enumerate(links, start=1):
        outcome = crawl_link(link, author, crawler_for, store)
        logger.info("[{}/{}] {}", index, len(links), describe_outcome(outcome))
        outcomes.append(outcome)
    return CrawlReport(outcomes=outcomes)


def describe_outcome(outcome: LinkOutcome) -> str:
    """One log line for a link: its status and counts, or for a failure its reason."""
    if outcome.status is LinkStatus.FAILED:
        return f"failed {outcome.link}: {reason_line(outcome.reason)}"
    return f"{outcome.status.value} {outcome.link} (stored {outcome.stored}, skipped {outcome.skipped})"


def reason_line(reason: str | None) -> str:
    """The first line of a failure reason, marked when more follow (the crawl report keeps them all).

    >>> reason_line("Message: net::ERR_NAME_NOT_RESOLVED\\nStacktrace:\\n#0 0x55d1…")
    'Message: net::ERR_NAME_NOT_RESOLVED (…)'
    """
    lines = (reason or "").strip().splitlines() or ["no reason given"]
    return lines[0] + (" (…)" if len(lines) > 1 else "")


def ensure_failure_rate(report: CrawlReport, max_failure_rate: float) -> None:
    """Fail the run when more links failed than allowed; what was stored stays stored."""
    if report.failure_rate > max_failure_rate:
        failures = "\n".join(f"  {link}: {reason_line(reason)}" for link, reason in report.failures().items())
        raise FailureRateExceededError(
            f"{report.failure_rate:.0%} of links failed, above the limit of {max_failure_rate:.0%}. "
            f"Fix or remove these links, or raise max_failure_rate:\n{failures}"
        )
