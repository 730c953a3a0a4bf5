import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from llm_engineering.domain.crawling import CrawlConfig, crawler_name_for
from llm_engineering.domain.documents import Document, RepositoryDocument, UserDocument
from llm_engineering.infrastructure.crawlers.exports import (
    FolderCrawler,
    LinkedInExportCrawler,
    MediumExportCrawler,
    SubstackExportCrawler,
)
from llm_engineering.infrastructure.crawlers.git import GitCrawler
from llm_engineering.infrastructure.samples import SampleSources, build_sample_sources, sample_links

CORPUS = Path(__file__).resolve().parents[2] / "samples" / "iris-calder"
AUTHOR = UserDocument(first_name="Iris", last_name="Calder")


def head_commit(repository: Path) -> str:
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> SampleSources:
    return build_sample_sources(CORPUS, tmp_path_factory.mktemp("built"))


@pytest.fixture(scope="module")
def crawled(sources: SampleSources) -> dict[str, list[Document]]:
    crawlers = {
        "git": GitCrawler(CrawlConfig()),
        "medium_export": MediumExportCrawler(),
        "substack_export": SubstackExportCrawler(),
        "linkedin_export": LinkedInExportCrawler(),
        "folder": FolderCrawler(),
    }
    return {
        crawler_name_for(link): crawlers[crawler_name_for(link)].crawl(link, AUTHOR)
        for link in sample_links(sources)
    }


def test_the_sample_links_reach_every_crawler(sources: SampleSources) -> None:
    links = sample_links(sources)
    assert [crawler_name_for(link) for link in links] == [
        "git",
        "medium_export",
        "substack_export",
        "linkedin_export",
        "folder",
    ]
    assert links[2].endswith("?publication=iriscalder")


def test_the_corpus_parses_to_the_expected_documents(crawled: dict[str, list[Document]]) -> None:
    assert {name: len(documents) for name, documents in crawled.items()} == {
        "git": 1,
        "medium_export": 4,
        "substack_export": 2,
        "linkedin_export": 7,
        "folder": 3,
    }
    [repository] = crawled["git"]
    assert isinstance(repository, RepositoryDocument)
    assert repository.name == "iris-calder-pipelines"
    assert len(repository.content) == 8
    assert "def chunk_words" in repository.content["boring_pipes/chunking.py"]
    medium_titles = [d.content["title"] for d in crawled["medium_export"]]
    assert "Rerankers Are Cheap Insurance" not in medium_titles
    assert all(d.link.startswith("https://medium.com/@iriscalder/") for d in crawled["medium_export"])
    assert all(400 <= len(d.content["body"].split()) <= 900 for d in crawled["medium_export"])
    assert all("```" in d.content["body"] for d in crawled["medium_export"])
    substack = [d.link for d in crawled["substack_export"]]
    assert substack == [
        "https://iriscalder.substack.com/p/why-my-pipelines-are-boring",
        "https://iriscalder.substack.com/p/what-a-reranker-buys-you",
    ]
    texts = [d.content["text"] for d in crawled["linkedin_export"]]
    assert any(
        "\n\n1. Is the expected" in text and '""' not in text and '"I don\'t know"' in text for text in texts
    )
    assert sorted(d.content["title"] for d in crawled["folder"]) == [
        "Before putting a small model in a pipeline",
        "Chunking experiments, support-search project",
        "Evaluation glossary",
    ]


def test_rebuilding_leaves_matching_outputs_untouched(sources: SampleSources) -> None:
    commit, archive = head_commit(sources.repository), sources.medium_zip.read_bytes()
    git_folder = (sources.repository / ".git").stat()

    again = build_sample_sources(CORPUS, sources.repository.parent)

    assert again == sources
    assert head_commit(again.repository) == commit
    assert again.medium_zip.read_bytes() == archive
    assert (again.repository / ".git").stat().st_ino == git_folder.st_ino
    assert sorted(path.name for path in sources.repository.parent.iterdir()) == [
        "iris-calder-pipelines",
        "medium-export.zip",
    ]


def test_a_separate_build_gives_the_same_commit_and_zip(sources: SampleSources, tmp_path: Path) -> None:
    other = build_sample_sources(CORPUS, tmp_path)
    assert head_commit(other.repository) == head_commit(sources.repository)
    assert other.medium_zip.read_bytes() == sources.medium_zip.read_bytes()
    with zipfile.ZipFile(other.medium_zip) as archive:
        names = archive.namelist()
        assert names == sorted(names) and len(names) == 5
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_changed_sources_replace_the_repository(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    first = build_sample_sources(corpus, tmp_path / "out")
    before = head_commit(first.repository)
    (corpus / "repository" / "README.md").write_text("# Changed\n", encoding="utf-8")
    (first.repository / "stray.txt").write_text("left behind", encoding="utf-8")

    second = build_sample_sources(corpus, tmp_path / "out")

    assert head_commit(second.repository) != before
    assert (second.repository / "README.md").read_text(encoding="utf-8") == "# Changed\n"
    assert not (second.repository / "stray.txt").exists()


def test_a_folder_that_is_not_the_corpus_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not the sample corpus"):
        build_sample_sources(tmp_path, tmp_path / "out")
