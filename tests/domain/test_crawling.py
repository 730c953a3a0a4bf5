import pytest

from llm_engineering.domain.crawling import (
    CrawlReport,
    LinkOutcome,
    LinkStatus,
    crawler_name_for,
    link_domain,
)
from llm_engineering.domain.exceptions import UnsupportedLinkError


@pytest.mark.parametrize(
    ("link", "crawler"),
    [
        ("https://github.com/iris/pipelines", "git"),
        ("https://gitlab.com/iris/pipelines/", "git"),
        ("git@github.com:iris/pipelines.git", "git"),
        ("https://example.org/code/pipelines.git", "git"),
        ("file:///srv/repos/pipelines", "git"),
        ("./data/samples/iris-calder-pipelines", "git"),
        ("/home/iris/code", "git"),
        ("https://medium.com/@iris/boring-pipelines-123abc", "medium"),
        ("https://towards.medium.com/x", "medium"),
        ("https://www.linkedin.com/in/iris-calder/", "linkedin"),
        ("https://iriscalder.substack.com/p/why", "article"),
        ("https://blog.example.com/posts/one", "article"),
        ("https://github.com/iris/pipelines/blob/main/README.md", "article"),
        ("medium-export:exports/medium.zip", "medium_export"),
        ("linkedin-export:exports/linkedin", "linkedin_export"),
        ("substack-export:exports/s.zip?publication=iris", "substack_export"),
        ("folder:notes", "folder"),
    ],
)
def test_links_are_routed_to_their_crawler(link: str, crawler: str) -> None:
    assert crawler_name_for(link) == crawler


@pytest.mark.parametrize("link", ["", "notes/today.md", "ftp://example.org/file", "mailto:iris@example.org"])
def test_unroutable_links_say_which_forms_work(link: str) -> None:
    with pytest.raises(UnsupportedLinkError, match="medium-export:"):
        crawler_name_for(link)


def test_link_domain_uses_host_or_scheme() -> None:
    assert link_domain("https://www.iris.dev/a") == "iris.dev"
    assert link_domain("linkedin-export:x") == "linkedin-export"
    assert link_domain("./repo") == "local"


def test_report_summarises_per_domain_and_failure_rate() -> None:
    report = CrawlReport(
        outcomes=[
            LinkOutcome(link="https://a.dev/1", crawler="article", status=LinkStatus.STORED, stored=1),
            LinkOutcome(link="https://a.dev/2", crawler="article", status=LinkStatus.SKIPPED, skipped=1),
            LinkOutcome(link="https://b.dev/1", crawler="article", status=LinkStatus.FAILED, reason="404"),
            LinkOutcome(link="folder:x", crawler="folder", status=LinkStatus.STORED, stored=3, skipped=2),
        ]
    )
    assert report.failure_rate == 0.25
    assert report.documents_stored == 4
    assert report.failures() == {"https://b.dev/1": "404"}
    assert report.per_domain()["a.dev"] == {
        "stored": 1,
        "skipped": 1,
        "documents_stored": 1,
        "documents_skipped": 1,
    }
    assert report.per_domain()["folder"]["documents_skipped"] == 2


def test_empty_report_has_no_failures() -> None:
    assert CrawlReport().failure_rate == 0.0
