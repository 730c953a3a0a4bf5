from uuid import uuid4

import pytest
from loguru import logger

from llm_engineering.application.etl import crawl_links, ensure_failure_rate, get_or_create_user
from llm_engineering.domain.crawling import CrawlReport, LinkStatus
from llm_engineering.domain.documents import ArticleDocument, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError, FailureRateExceededError, TwinError
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


def test_names_match_ignoring_case_and_spacing_and_the_first_spelling_stays(store: InMemoryStore) -> None:
    first = get_or_create_user(store, "ada quill")
    assert get_or_create_user(store, "Ada Quill") == first
    assert get_or_create_user(store, "  ADA   quill ") == first
    assert [user.full_name for user in store.users.values()] == ["ada quill"]


def test_an_author_id_keeps_two_people_with_one_name_apart(store: InMemoryStore) -> None:
    by_name = get_or_create_user(store, "Ada Quill")
    other_id = uuid4()
    namesake = get_or_create_user(store, "Ada Quill", user_id=other_id)
    assert namesake.id == other_id != by_name.id
    assert get_or_create_user(store, "ada quill", user_id=other_id) == namesake
    assert get_or_create_user(store, "Ada Quill") == by_name  # by name: the first stored
    assert get_or_create_user(store, "Ada Quill", user_id=by_name.id) == by_name
    assert len(store.users) == 2


def test_an_author_id_stored_under_another_name_is_refused_with_both_names(store: InMemoryStore) -> None:
    user_id = get_or_create_user(store, "Ada Quill", user_id=uuid4()).id
    with pytest.raises(TwinError, match=rf"user_id {user_id} is the author 'Ada Quill', not 'Tomas Reyes'"):
        get_or_create_user(store, "Tomas Reyes", user_id=user_id)
    assert len(store.users) == 1


def test_a_page_stored_under_another_link_is_skipped_without_crawling(
    store: InMemoryStore, author: UserDocument
) -> None:
    first = "https://iris.dev/one"
    variants = ["http://iris.dev/one/", "https://iris.dev/one?utm_source=rss", "https://Iris.dev/one#top"]
    crawler = ScriptedCrawler({link: [article(author, link)] for link in [first, *variants]})
    report = crawl_links([first, *variants], author, lambda name: crawler, store)

    assert [o.status for o in report.outcomes] == [LinkStatus.STORED] + [LinkStatus.SKIPPED] * 3
    assert crawler.calls == [first]
    assert [d.link for d in store.documents.values()] == [first]


def test_an_export_rerun_with_other_links_for_the_same_posts_stores_nothing_new(
    store: InMemoryStore, author: UserDocument
) -> None:
    export = "substack-export:exports/substack"
    by_url = article(author, "https://iris.substack.com/p/batch-sizes")
    crawler = ScriptedCrawler(
        {export: [by_url.model_copy(update={"aliases": ("substack-export:151.batch-sizes",)})]}
    )
    crawl_links([export], author, lambda name: crawler, store)
    crawler.results[export] = [article(author, "substack-export:151.batch-sizes")]
    report = crawl_links([export], author, lambda name: crawler, store)

    assert (report.outcomes[0].stored, report.outcomes[0].skipped) == (0, 1)
    assert len(store.documents) == 1


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


def test_malformed_links_fail_alone_with_reasons_naming_them(
    store: InMemoryStore, author: UserDocument
) -> None:
    good = ["https://iris.dev/one", "folder:notes"]
    malformed = ["http://[::1/post", "https://iris.dev/my post", "https:///no-host", "   "]
    crawler = ScriptedCrawler(
        {good[0]: [article(author, good[0])], good[1]: [article(author, "file:///notes/a.md")]}
    )
    report = crawl_links([good[0], *malformed, good[1]], author, lambda name: crawler, store)

    assert crawler.calls == good
    statuses = [o.status for o in report.outcomes]
    assert statuses == [LinkStatus.STORED, *[LinkStatus.FAILED] * 4, LinkStatus.STORED]
    reasons = report.failures()
    assert "'http://[::1/post' is not a well-formed URL (Invalid IPv6 URL)" in reasons["http://[::1/post"]
    assert "whitespace inside" in reasons["https://iris.dev/my post"]
    assert "names no host" in reasons["https:///no-host"]
    assert reasons[""] == "An empty link; remove it from `links`."
    assert report.per_domain()["malformed"]["failed"] == 1
    assert len(store.documents) == 2


def test_a_failed_link_logs_one_line_with_its_reason_and_the_traceback_at_debug(
    store: InMemoryStore, author: UserDocument
) -> None:
    link = "https://iris.dev/missing"
    crawler = ScriptedCrawler({link: CrawlError("HTTP 404 from the server\nsecond line of detail")})
    records: list[tuple[str, str]] = []
    sink = logger.add(
        lambda message: records.append((message.record["level"].name, str(message))),
        level="DEBUG",
        format="{message}",  # loguru appends the traceback, if any, on the lines below
    )
    try:
        crawl_links([link], author, lambda name: crawler, store)
    finally:
        logger.remove(sink)

    loud = [text for level, text in records if level not in ("TRACE", "DEBUG")]
    assert len(loud) == 1
    assert link in loud[0] and "HTTP 404 from the server" in loud[0]
    assert "Traceback" not in loud[0] and loud[0].strip().count("\n") == 0
    debug = [text for level, text in records if level == "DEBUG"]
    assert any("Traceback" in text and link in text for text in debug)


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
