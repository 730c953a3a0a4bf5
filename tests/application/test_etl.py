import pytest

from llm_engineering.application.etl import crawl_links, ensure_failure_rate, get_or_create_user
from llm_engineering.domain.crawling import CrawlReport, LinkStatus
from llm_engineering.domain.documents import ArticleDocument, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, FailureRateExceededError
from tests.support.fakes import InMemoryStore, ScriptedCrawler


def article(author: UserDocument, link: str) -> ArticleDocument:
    return ArticleDocument(
        content={"title": "T", "body": "B"},
        platform="blog",
        author_id=author.id,
        author_full_name=author.full_name,
        link=link,
    )


def post(author: UserDocument, link: str) -> PostDocument:
    return PostDocument(
        content={"text": "hello"},
        platform="linkedin",
        author_id=author.id,
        author_full_name=author.full_name,
        link=link,
    )


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def author(store: InMemoryStore) -> UserDocument:
    return get_or_create_user(store, "Iris Calder")


def test_get_or_create_user_is_idempotent(store: InMemoryStore) -> None:
    first = get_or_create_user(store, "Iris Calder")
    assert get_or_create_user(store, "Iris  Calder") == first
    assert len(store.users) == 1


def test_every_link_gets_an_outcome_and_failures_do_not_stop_the_run(
    store: InMemoryStore, author: UserDocument
) -> None:
    blog = "https://iris.dev/one"
    export = "linkedin-export:exports/li"
    crawler = ScriptedCrawler(
        {
            blog: [article(author, blog)],
            "https://iris.dev/missing": CrawlError("HTTP 404"),
            export: [post(author, "https://li/1"), post(author, "https://li/2")],
        }
    )
    links = [blog, "https://iris.dev/missing", "gopher://nowhere", export]
    report = crawl_links(links, author, lambda name: crawler, store)

    assert [o.status for o in report.outcomes] == [
        LinkStatus.STORED,
        LinkStatus.FAILED,
        LinkStatus.FAILED,
        LinkStatus.STORED,
    ]
    assert report.outcomes[1].reason == "HTTP 404"
    assert "No crawler handles" in (report.outcomes[2].reason or "")
    assert report.outcomes[3].stored == 2
    assert report.documents_stored == 3
    assert len(store.documents) == 3


def test_second_run_skips_stored_links_without_crawling_them(
    store: InMemoryStore, author: UserDocument
) -> None:
    blog = "https://iris.dev/one"
    crawler = ScriptedCrawler({blog: [article(author, blog)]})
    crawl_links([blog], author, lambda name: crawler, store)
    report = crawl_links([blog], author, lambda name: crawler, store)

    assert report.outcomes[0].status is LinkStatus.SKIPPED
    assert crawler.calls == [blog]
    assert len(store.documents) == 1


def test_export_rerun_counts_documents_already_present(store: InMemoryStore, author: UserDocument) -> None:
    export = "linkedin-export:exports/li"
    # Fresh ids each crawl, as a real export crawler makes: the unique link is what dedupes.
    crawler = ScriptedCrawler({export: [post(author, "https://li/1")]})
    crawl_links([export], author, lambda name: crawler, store)
    crawler.results[export] = [post(author, "https://li/1"), post(author, "https://li/2")]
    report = crawl_links([export], author, lambda name: crawler, store)

    assert (report.outcomes[0].stored, report.outcomes[0].skipped) == (1, 1)
    assert len(store.documents) == 2


def test_unexpected_crawler_errors_are_recorded_with_their_type(
    store: InMemoryStore, author: UserDocument
) -> None:
    crawler = ScriptedCrawler({"https://iris.dev/x": ValueError()})
    report = crawl_links(["https://iris.dev/x"], author, lambda name: crawler, store)
    assert report.outcomes[0].reason == "ValueError"


def test_failure_rate_above_limit_fails_with_each_reason(store: InMemoryStore, author: UserDocument) -> None:
    crawler = ScriptedCrawler({"https://iris.dev/a": CrawlError("HTTP 500 after 3 retries")})
    report = crawl_links(["https://iris.dev/a", "https://iris.dev/b"], author, lambda name: crawler, store)
    with pytest.raises(FailureRateExceededError, match="HTTP 500 after 3 retries"):
        ensure_failure_rate(report, 0.2)
    ensure_failure_rate(report, 1.0)
    ensure_failure_rate(CrawlReport(), 0.0)
