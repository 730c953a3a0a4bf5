"""Link identity: the variants of one page fold to one canonical link, different pages never do."""

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_engineering.domain.documents import ArticleDocument
from llm_engineering.domain.links import canonical_link

SAME_PAGE = [
    pytest.param(
        "https://iris.dev/posts/batch-sizes",
        [
            "https://iris.dev/posts/batch-sizes?utm_source=rss&utm_medium=feed&utm_campaign=may",
            "https://iris.dev/posts/batch-sizes?fbclid=IwAR0x&gclid=Cj0K&ref=hn",
            "https://iris.dev/posts/batch-sizes#why-small",
            "https://iris.dev/posts/batch-sizes/",
            "http://iris.dev/posts/batch-sizes",
            "HTTPS://Iris.DEV/posts/batch-sizes",
            "https://iris.dev:443/posts/batch-sizes",
            "http://iris.dev:80/posts/batch-sizes/?utm_source=x#top",
            "  https://iris.dev/posts/batch-sizes\n",
        ],
        id="tracking-fragment-slash-scheme-host-port",
    ),
    pytest.param(
        "https://iris.dev/search?page=2&q=batch",
        ["https://iris.dev/search?q=batch&page=2", "https://iris.dev/search/?utm_term=x&q=batch&page=2"],
        id="query-parameters-sorted",
    ),
    pytest.param(
        "https://iris.dev",
        ["https://iris.dev/", "http://IRIS.dev/#top", "https://iris.dev/?ref=newsletter"],
        id="home-page",
    ),
    pytest.param(
        "https://iris.dev/caf%C3%A9",
        ["https://iris.dev/café", "https://iris.dev/caf%c3%a9/"],
        id="percent-encoding",
    ),
    pytest.param(
        "https://github.com/iris/pipelines",
        [
            "https://github.com/iris/pipelines.git",
            "https://GitHub.com/iris/pipelines/",
            "git@github.com:iris/pipelines.git",
            "ssh://git@github.com/iris/pipelines.git",
            "https://x-access-token:s3cret@github.com/iris/pipelines.git",
        ],
        id="git-repository",
    ),
]


@pytest.mark.parametrize(("canonical", "variants"), SAME_PAGE)
def test_the_variants_of_one_page_fold_to_one_identity(canonical: str, variants: list[str]) -> None:
    assert {variant: canonical_link(variant) for variant in [canonical, *variants]} == dict.fromkeys(
        [canonical, *variants], canonical
    )


DIFFERENT_PAGES = [
    pytest.param("https://iris.dev/posts/a", "https://iris.dev/posts/b", id="path"),
    pytest.param("https://iris.dev/Posts/a", "https://iris.dev/posts/a", id="path-case"),
    pytest.param("https://iris.dev/search?q=a", "https://iris.dev/search?q=b", id="query-value"),
    pytest.param("https://iris.dev/search?q=a", "https://iris.dev/search", id="query-kept"),
    pytest.param("https://iris.dev/a", "https://iris.dev:8443/a", id="other-port"),
    pytest.param("https://iris.dev/a", "https://blog.iris.dev/a", id="other-host"),
    pytest.param("https://github.com/iris/pipelines", "https://github.com/tomas/pipelines", id="other-owner"),
    pytest.param("folder:notes/a.md", "folder:notes/b.md", id="folder"),
    pytest.param("medium-export:a.zip", "medium-export:b.zip", id="export"),
    # One Substack post by URL and by export id: only an alias on the document can tie them (see below).
    pytest.param("https://iris.substack.com/p/batch-sizes", "substack-export:151.batch-sizes", id="substack"),
]


@pytest.mark.parametrize(("one", "other"), DIFFERENT_PAGES)
def test_different_pages_keep_different_identities(one: str, other: str) -> None:
    assert canonical_link(one) != canonical_link(other)


@pytest.mark.parametrize(
    "link",
    [
        "folder:samples/iris-calder/notes",
        "medium-export:data/samples/medium-export.zip",
        "substack-export:samples/export?publication=iriscalder",
        "substack-export:151.batch-sizes",
        "linkedin-export:exports/li",
        "handbook-post:3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "file:///home/iris/pipelines",
        "./data/samples/iris-calder-pipelines",
        "http://[::1/post",  # malformed: its text is all there is to compare
        "https://iris.dev:port/a",
    ],
)
def test_other_links_are_their_own_identity_as_written(link: str) -> None:
    assert canonical_link(link) == link
    assert canonical_link(f"  {link} ") == link


@given(st.text(max_size=60) | st.from_regex(r"https?://[a-zA-Z.]{1,12}(:\d{1,5})?/[^#]{0,20}(#.*)?"))
def test_canonical_link_never_fails_and_is_its_own_canonical_link(link: str) -> None:
    canonical = canonical_link(link)
    assert canonical_link(canonical) == canonical


def article(link: str, aliases: tuple[str, ...] = ()) -> ArticleDocument:
    return ArticleDocument(
        content={"title": "Batch sizes"},
        platform="substack",
        author_id=uuid4(),
        author_full_name="Iris Calder",
        link=link,
        aliases=aliases,
    )


def test_a_document_keeps_its_link_as_seen_and_is_identified_by_its_canonical_link() -> None:
    document = article("http://iris.dev/posts/batch-sizes/?utm_source=rss")
    assert document.link == "http://iris.dev/posts/batch-sizes/?utm_source=rss"
    assert document.canonical_link == "https://iris.dev/posts/batch-sizes"


def test_aliases_add_identities_once_and_with_aliases_never_repeats_a_link() -> None:
    document = article(
        "https://iris.substack.com/p/batch-sizes",
        aliases=("http://iris.substack.com/p/batch-sizes/", "substack-export:151.batch-sizes"),
    )
    assert document.canonical_aliases == ("substack-export:151.batch-sizes",)
    same = document.with_aliases([document.link, "substack-export:151.batch-sizes"])
    assert same is document
    more = document.with_aliases(["https://iris.substack.com/p/batch-sizes?utm_source=x", "x", "x"])
    assert more.aliases == (*document.aliases, "https://iris.substack.com/p/batch-sizes?utm_source=x", "x")
