"""The ETL use case: crawl an author's links into the warehouse, one outcome per link."""

from collections.abc import Callable

from loguru import logger

from llm_engineering.application.ports import Crawler, DocumentStore, InsertOutcome
from llm_engineering.domain.crawling import (
    CrawlReport,
    LinkOutcome,
    LinkStatus,
    crawler_name_for,
)
from llm_engineering.domain.documents import UserDocument, split_full_name
from llm_engineering.domain.exceptions import FailureRateExceededError

CrawlerLookup = Callable[[str], Crawler]


def get_or_create_user(store: DocumentStore, full_name: str) -> UserDocument:
    """The warehouse user with that full name, created on first use."""
    first_name, last_name = split_full_name(full_name)
    return store.get_or_create_user(first_name, last_name)


def crawl_link(
    link: str, author: UserDocument, crawler_for: CrawlerLookup, store: DocumentStore
) -> LinkOutcome:
    """Crawl one link and store what is new; any error becomes a failed outcome with its reason."""
    link = link.strip()
    try:
        name = crawler_name_for(link)
    except Exception as error:  # the per-link boundary: every failure is recorded, none is lost
        return LinkOutcome(link=link, crawler="none", status=LinkStatus.FAILED, reason=str(error))
    if store.link_exists(link):
        return LinkOutcome(link=link, crawler=name, status=LinkStatus.SKIPPED, skipped=1)
    try:
        documents = crawler_for(name).crawl(link, author)
    except Exception as error:  # the per-link boundary: every failure is recorded, none is lost
        logger.opt(exception=error).warning("Crawling {} failed", link)
        reason = str(error) or type(error).__name__
        return LinkOutcome(link=link, crawler=name, status=LinkStatus.FAILED, reason=reason)
    outcomes = [store.insert(document) for document in documents]
    stored = outcomes.count(InsertOutcome.STORED)
    status = LinkStatus.STORED if stored else LinkStatus.SKIPPED
    return LinkOutcome(link=link, crawler=name, status=status, stored=stored, skipped=len(outcomes) - stored)


def crawl_links(
    links: list[str], author: UserDocument, crawler_for: CrawlerLookup, store: DocumentStore
) -> CrawlReport:
    """Crawl every link in turn, logging progress; never stops early on a failed link."""
    outcomes = []
    for index, link in enumerate(links, start=1):
        outcome = crawl_link(link, author, crawler_for, store)
        logger.info(
            "[{}/{}] {} {} (stored {}, skipped {})",
            index,
            len(links),
            outcome.status.value,
            link,
            outcome.stored,
            outcome.skipped,
        )
        outcomes.append(outcome)
    return CrawlReport(outcomes=outcomes)


def ensure_failure_rate(report: CrawlReport, max_failure_rate: float) -> None:
    """Fail the run when more links failed than allowed; what was stored stays stored."""
    if report.failure_rate > max_failure_rate:
        failures = "\n".join(f"  {link}: {reason}" for link, reason in report.failures().items())
        raise FailureRateExceededError(
            f"{report.failure_rate:.0%} of links failed, above the limit of {max_failure_rate:.0%}. "
            f"Fix or remove these links, or raise max_failure_rate:\n{failures}"
        )
