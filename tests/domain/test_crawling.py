import pytest

from llm_engineering.domain.crawling import (
    CrawlReport,
    LinkOutcome,
    LinkStatus,
    crawler_name_for,
    link_domain,
    link_problem,
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


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ("http://[::1/post", "not a well-formed URL (Invalid IPv6 URL)"),
        ("https://iris.dev:80a/x", "not a well-formed URL"),
        ("https:///posts/one", "names no host"),
        ("https://iris.dev/my post", "whitespace inside"),
        ("https://iris.dev/a https://iris.dev/b", "whitespace inside"),
        ("ftp://example.org/file", "No crawler handles"),
    ],
)
def test_link_problem_names_the_link_and_what_is_wrong(link: str, problem: str) -> None:
    found = link_problem(link)
    assert found is not None
    assert repr(link) in found
    assert problem in found


def test_link_problem_names_empty_links() -> None:
    assert link_problem("  ") == "An empty link; remove it from `links`."


@pytest.mark.parametrize(
    "link",
    [
        "https://iris.dev/posts/one?page=2#top",
        "http://[::1]:8080/post",
        "git@github.com:iris/pipelines.git",
        "file:///srv/my repos/pipelines",
        "folder:/home/iris/My Notes",
        "medium-export:exports/medium export.zip",
    ],
)
def test_link_problem_accepts_routable_links(link: str) -> None:
    assert link_problem(link) is None


def test_link_domain_of_a_malformed_link_does_not_raise() -> None:
    outcome = LinkOutcome(link="http://[::1/post", crawler="none", status=LinkStatus.FAILED, reason="bad")
    assert outcome.domain == "malformed"
    assert CrawlReport(outcomes=[outcome]).per_domain() == {
        "malformed": {"failed": 1, "documents_stored": 0, "documents_skipped": 0}
    }
    assert outcome.model_dump()["domain"] == "malformed"


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
