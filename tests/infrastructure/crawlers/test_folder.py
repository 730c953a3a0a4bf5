"""Front matter of the Markdown notes a `folder:` link reads (Jekyll, Hugo, Obsidian)."""

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest

from llm_engineering.domain.documents import Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.exports import FolderCrawler

JEKYLL = """---
layout: post
title: "Why my pipelines are boring"
date: 2024-03-05 07:30:00 +0100
tags: [mlops, zenml]
---

Boring is a feature.

---

A rule, then more text.
"""
HUGO = """+++
title = "Chunking, measured"
date = 2024-04-01T09:00:00Z
tags = ["rag", "chunking"]
draft = false
+++

# A heading in the body

Sixty questions, three chunk sizes.
"""
OBSIDIAN = """---
tags:
  - evaluation
  - "#small-models"
created: 2024-05-20
aliases: [checklist]
---
# Before putting a small model in a pipeline

1. Greedy or sampled?
"""


def crawl(notes: Path, files: dict[str, str], author: UserDocument) -> dict[str, Document]:
    notes.mkdir()
    for name, text in files.items():
        (notes / name).write_text(text, encoding="utf-8")
    return {unquote(Path(d.link).name): d for d in FolderCrawler().crawl(f"folder:{notes}", author)}


def test_front_matter_gives_title_date_and_tags_and_stays_out_of_the_body(
    tmp_path: Path, author: UserDocument
) -> None:
    notes = crawl(
        tmp_path / "notes",
        {"2024-03-05-boring.md": JEKYLL, "chunking.md": HUGO, "Small model checklist.md": OBSIDIAN},
        author,
    )
    jekyll, hugo, obsidian = (
        notes["2024-03-05-boring.md"],
        notes["chunking.md"],
        notes["Small model checklist.md"],
    )

    assert jekyll.content == {
        "title": "Why my pipelines are boring",
        "body": "Boring is a feature.\n\n---\n\nA rule, then more text.",
    }
    assert jekyll.published_at == datetime(2024, 3, 5, 6, 30, tzinfo=UTC)
    assert jekyll.tags == ["mlops", "zenml"]

    assert hugo.content == {
        "title": "Chunking, measured",
        "body": "# A heading in the body\n\nSixty questions, three chunk sizes.",
    }
    assert hugo.published_at == datetime(2024, 4, 1, 9, tzinfo=UTC)
    assert hugo.tags == ["rag", "chunking"]

    # No title in the front matter: the first heading, as for notes without front matter.
    assert obsidian.content["title"] == "Before putting a small model in a pipeline"
    assert obsidian.content["body"].startswith("# Before putting")
    assert obsidian.published_at == datetime(2024, 5, 20, tzinfo=UTC)
    assert obsidian.tags == ["evaluation", "small-models"]


def test_notes_without_front_matter_title_or_heading_are_titled_by_file_name(
    tmp_path: Path, author: UserDocument
) -> None:
    notes = crawl(
        tmp_path / "notes",
        {"plain.md": "Just text.\n", "bare.md": "---\ndraft: true\ntags: one, two\n---\nOnly a body.\n"},
        author,
    )
    assert notes["plain.md"].content == {"title": "plain", "body": "Just text."}
    assert (notes["plain.md"].published_at, notes["plain.md"].tags) == (None, [])
    assert notes["bare.md"].content == {"title": "bare", "body": "Only a body."}
    assert notes["bare.md"].tags == ["one", "two"]


def test_unreadable_front_matter_fails_naming_the_file(tmp_path: Path, author: UserDocument) -> None:
    with pytest.raises(CrawlError, match=r"broken\.md.*not valid YAML"):
        crawl(tmp_path / "notes", {"broken.md": "---\ntitle: [unclosed\n---\nBody\n"}, author)
