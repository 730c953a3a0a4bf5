import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llm_engineering.domain.documents import ArticleDocument, DataCategory, PostDocument, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.exports import (
    FolderCrawler,
    LinkedInExportCrawler,
    MediumExportCrawler,
    SubstackExportCrawler,
)
from llm_engineering.infrastructure.crawlers.exports import files as exports_files
from tests.support.fakes import InMemoryStore

AUTHOR = UserDocument(first_name="Iris", last_name="Calder")
MEDIUM_POST = """<!DOCTYPE html><html><head><title>{title}</title></head><body><article class="h-entry">
<header><h1 class="p-name">{title}</h1></header>
<section data-field="subtitle" class="p-summary">A subtitle</section>
<section data-field="body" class="e-content"><section class="section">
<div class="section-divider"><hr class="section-divider"></div><div class="section-content">
<h3 class="graf graf--h3 graf--title">{title}</h3>
<p class="graf graf--p">First <em>paragraph</em>.</p>
<pre data-code-block-lang="python" class="graf graf--pre"><span>x = 1<br>y = x &lt; 2</span></pre>
</div></section></section>
<footer><p><time class="dt-published" datetime="2024-02-11T08:42:17.301Z">Feb 11</time></p>
<p><a href="https://medium.com/@iris/{slug}" class="p-canonical">Canonical link</a></p>
</footer></article></body></html>"""
SHARES = (
    "\ufeffDate,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\n"
    "2024-03-20 12:40:18,https://www.linkedin.com/feed/update/1,"
    '"Line one\nSaid ""hello"", then left.",,,MEMBER\n'
    "2024-04-03 17:22:09,https://www.linkedin.com/feed/update/2,,https://example.com,,MEMBER\n"
    "2024-05-01 08:00:00,,Plain post,,,MEMBER\n"
)
POSTS_CSV = (
    "post_id,post_date,is_published,email_sent_at,inbox_sent_at,type,audience,title,subtitle,podcast_url\n"
    "148923471.why-my-pipelines-are-boring,2024-03-05T07:30:00.000Z,true,,,newsletter,everyone,Boring,Sub,\n"
    "153310472.unfinished,,false,,,newsletter,everyone,Draft,,\n"
)


def write_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def zip_files(path: Path, files: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


MEDIUM_FILES = {
    "posts/2024-02-11_First-aaa111.html": MEDIUM_POST.format(title="First", slug="first-aaa111"),
    "posts/2024-03-01_Second-bbb222.html": MEDIUM_POST.format(title="Second", slug="second-bbb222"),
    "posts/draft_Later-ccc333.html": MEDIUM_POST.format(title="Later", slug="later-ccc333"),
    "profile/profile.html": "<html></html>",
}


def test_medium_folder_gives_published_posts_as_markdown(tmp_path: Path) -> None:
    export = write_files(tmp_path / "medium", MEDIUM_FILES)
    documents = MediumExportCrawler().crawl(f"medium-export:{export}", AUTHOR)

    assert [d.link for d in documents] == [
        "https://medium.com/@iris/first-aaa111",
        "https://medium.com/@iris/second-bbb222",
    ]
    first = documents[0]
    assert isinstance(first, ArticleDocument)
    assert first.platform == "medium"
    assert first.content == {
        "title": "First",
        "subtitle": "A subtitle",
        "body": "First *paragraph*.\n\n```python\nx = 1\ny = x < 2\n```",
    }
    assert first.published_at == datetime(2024, 2, 11, 8, 42, 17, 301000, tzinfo=UTC)


def test_medium_zip_with_a_top_folder_reads_like_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = MediumExportCrawler().crawl(
        f"medium-export:{write_files(tmp_path / 'medium', MEDIUM_FILES)}", AUTHOR
    )
    zip_files(
        tmp_path / "export.zip", {f"medium-export-2024/{name}": text for name, text in MEDIUM_FILES.items()}
    )
    monkeypatch.chdir(tmp_path)
    zipped = MediumExportCrawler().crawl("medium-export:export.zip", AUTHOR)
    assert [(d.link, d.content) for d in zipped] == [(d.link, d.content) for d in folder]


def test_medium_post_without_canonical_link_is_named_by_its_file(tmp_path: Path) -> None:
    page = MEDIUM_POST.format(title="T", slug="t").replace('class="p-canonical"', "")
    export = write_files(tmp_path, {"posts/2024-01-01_T-ddd444.html": page})
    [document] = MediumExportCrawler().crawl(f"medium-export:{export}", AUTHOR)
    assert document.link == "medium-export:2024-01-01_T-ddd444"


def test_linkedin_keeps_quoted_newlines_and_skips_empty_commentary(tmp_path: Path) -> None:
    export = write_files(tmp_path / "linkedin", {"Shares.csv": SHARES, "Profile.csv": "First Name\nIris\n"})
    documents = LinkedInExportCrawler().crawl(f"linkedin-export:{export}", AUTHOR)

    assert [d.content["text"] for d in documents] == ['Line one\nSaid "hello", then left.', "Plain post"]
    assert all(isinstance(d, PostDocument) and d.platform == "linkedin" for d in documents)
    assert documents[0].link == "https://www.linkedin.com/feed/update/1"
    assert documents[0].published_at == datetime(2024, 3, 20, 12, 40, 18, tzinfo=UTC)
    assert documents[1].link.startswith("linkedin-export:share-")
    again = LinkedInExportCrawler().crawl(f"linkedin-export:{export}", AUTHOR)
    assert again[1].link == documents[1].link


def test_linkedin_zip_reads_like_the_folder(tmp_path: Path) -> None:
    archive = zip_files(tmp_path / "Basic_LinkedInDataExport.zip", {"Shares.csv": SHARES.encode()})
    documents = LinkedInExportCrawler().crawl(f"linkedin-export:{archive}", AUTHOR)
    assert [d.content["text"] for d in documents] == ['Line one\nSaid "hello", then left.', "Plain post"]


def test_linkedin_export_without_shares_or_columns_fails(tmp_path: Path) -> None:
    with pytest.raises(CrawlError, match=r"has no Shares\.csv"):
        LinkedInExportCrawler().crawl(
            f"linkedin-export:{write_files(tmp_path / 'a', {'Profile.csv': 'x'})}", AUTHOR
        )
    broken = write_files(tmp_path / "b", {"Shares.csv": "Date,Link\n2024-01-01,x\n"})
    with pytest.raises(CrawlError, match="lacks the columns ShareCommentary, ShareLink"):
        LinkedInExportCrawler().crawl(f"linkedin-export:{broken}", AUTHOR)


SUBSTACK_FILES = {
    "posts.csv": POSTS_CSV,
    "posts/148923471.why-my-pipelines-are-boring.html": (
        "<p>Body with <strong>bold</strong>.</p><pre><code>run()</code></pre>"
    ),
    "posts/153310472.unfinished.html": "<p>Not yet.</p>",
}


def test_substack_publication_links_and_unpublished_posts(tmp_path: Path) -> None:
    export = write_files(tmp_path / "substack", SUBSTACK_FILES)
    [document] = SubstackExportCrawler().crawl(f"substack-export:{export}?publication=iriscalder", AUTHOR)

    assert document.link == "https://iriscalder.substack.com/p/why-my-pipelines-are-boring"
    assert document.platform == "substack"
    assert document.content == {
        "title": "Boring",
        "subtitle": "Sub",
        "body": "Body with **bold**.\n\n```\nrun()\n```",
    }
    assert document.published_at == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)


def test_substack_zip_without_publication_links_by_post_id(tmp_path: Path) -> None:
    archive = zip_files(tmp_path / "substack.zip", dict(SUBSTACK_FILES))
    [document] = SubstackExportCrawler().crawl(f"substack-export:{archive}", AUTHOR)
    assert document.link == "substack-export:148923471.why-my-pipelines-are-boring"


def test_substack_export_missing_its_files_fails(tmp_path: Path) -> None:
    no_csv = write_files(tmp_path / "a", {"posts/1.a.html": "<p>x</p>"})
    with pytest.raises(CrawlError, match=r"has no posts\.csv"):
        SubstackExportCrawler().crawl(f"substack-export:{no_csv}", AUTHOR)
    no_folder = write_files(tmp_path / "b", {"posts.csv": POSTS_CSV})
    with pytest.raises(CrawlError, match="has no posts/ folder"):
        SubstackExportCrawler().crawl(f"substack-export:{no_folder}", AUTHOR)
    no_body = write_files(tmp_path / "c", {"posts.csv": POSTS_CSV, "posts/153310472.unfinished.html": "x"})
    with pytest.raises(CrawlError, match=r"posts/148923471.why-my-pipelines-are-boring.html is missing"):
        SubstackExportCrawler().crawl(f"substack-export:{no_body}", AUTHOR)
    with pytest.raises(CrawlError, match="not a Substack publication name"):
        SubstackExportCrawler().crawl(f"substack-export:{tmp_path / 'a'}?publication=Iris%20C", AUTHOR)


def test_folder_reads_markdown_and_html_recursively(tmp_path: Path) -> None:
    notes = write_files(
        tmp_path / "notes",
        {
            "a.md": "```sh\n# a shell comment\n```\n\n# Real title\n\nText.\n",
            "deep/b.html": "<html><head><title>Tab</title></head><body><h1>Heading</h1><p>Para</p></body>",
            "deep/c.htm": "<html><head><title>Only title</title></head><body><p>Hi</p></body></html>",
            "untitled.markdown": "No heading here.",
            "image.png": "not a note",
            ".obsidian/workspace.md": "# tool state",
        },
    )
    documents = FolderCrawler().crawl(f"folder:{notes}", AUTHOR)

    titles = {Path(d.link).name: d.content["title"] for d in documents}
    assert titles == {
        "a.md": "Real title",
        "b.html": "Heading",
        "c.htm": "Only title",
        "untitled.markdown": "untitled",
    }
    by_name = {Path(d.link).name: d for d in documents}
    assert by_name["b.html"].content["body"] == "# Heading\n\nPara"
    assert by_name["b.html"].link == (notes / "deep" / "b.html").as_uri()
    assert all(d.platform == "local" for d in documents)


def test_folder_without_notes_or_path_fails(tmp_path: Path) -> None:
    with pytest.raises(CrawlError, match=r"holds no \.md"):
        FolderCrawler().crawl(f"folder:{write_files(tmp_path / 'n', {'x.txt': 'x'})}", AUTHOR)
    with pytest.raises(CrawlError, match="No folder at"):
        FolderCrawler().crawl(f"folder:{tmp_path / 'missing'}", AUTHOR)


def test_missing_and_corrupt_exports_fail(tmp_path: Path) -> None:
    with pytest.raises(CrawlError, match="No export at"):
        MediumExportCrawler().crawl(f"medium-export:{tmp_path / 'missing.zip'}", AUTHOR)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(CrawlError, match=r"not a readable \.zip"):
        LinkedInExportCrawler().crawl(f"linkedin-export:{tmp_path / 'broken.zip'}", AUTHOR)
    with pytest.raises(CrawlError, match="names no path"):
        FolderCrawler().crawl("folder:", AUTHOR)


def test_zip_members_escaping_the_archive_are_never_read(tmp_path: Path) -> None:
    archive = zip_files(tmp_path / "evil.zip", {"../Shares.csv": SHARES, "/abs/Shares.csv": SHARES})
    with pytest.raises(CrawlError, match=r"has no Shares\.csv"):
        LinkedInExportCrawler().crawl(f"linkedin-export:{archive}", AUTHOR)


def test_oversized_members_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports_files, "MAX_MEMBER_BYTES", 100)
    archive = zip_files(tmp_path / "big.zip", {"Shares.csv": SHARES + "x" * 200})
    with pytest.raises(CrawlError, match="over 100 bytes"):
        LinkedInExportCrawler().crawl(f"linkedin-export:{archive}", AUTHOR)
    folder = write_files(tmp_path / "big", {"Shares.csv": SHARES + "x" * 200})
    with pytest.raises(CrawlError, match="over 100 bytes"):
        LinkedInExportCrawler().crawl(f"linkedin-export:{folder}", AUTHOR)


@pytest.mark.parametrize("publication_first", [True, False])
def test_one_substack_export_imported_with_and_without_its_publication_is_stored_once(
    tmp_path: Path, publication_first: bool
) -> None:
    export = write_files(tmp_path / "substack", SUBSTACK_FILES)
    links = [f"substack-export:{export}?publication=iriscalder", f"substack-export:{export}"]
    store = InMemoryStore()
    for link in links if publication_first else links[::-1]:
        for document in SubstackExportCrawler().crawl(link, AUTHOR):
            store.insert(document)
    assert store.count(DataCategory.ARTICLES) == 1
