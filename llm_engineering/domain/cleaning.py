"""Cleaning raw documents into the text that gets chunked and embedded: meaning kept, page noise dropped."""

import hashlib
import json
from collections.abc import Callable

from llm_engineering.domain.documents import DataCategory, Document
from llm_engineering.domain.features import CleanedDocument, Section
from llm_engineering.domain.text_cleaning import clean_text

# Part of every content hash and fingerprint: bump it whenever a rule here or in text_cleaning changes, so
# the incremental feature pipeline sees every document as changed (reason "cleaning") and indexes it again.
CLEANING_VERSION = 1


def clean_code(text: str) -> str:
    """A source file with \\n line endings and no trailing whitespace or blank lines; content untouched."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip(" \t\f\v") for line in lines).rstrip("\n")


# Content fields that are not text to embed (a post's image URL, an article's language code).
NON_TEXT_FIELDS = frozenset({"image", "language"})


def _prose(content: dict[str, str], leading: tuple[str, ...]) -> str:
    """Cleaned text fields, `leading` ones first, empty ones dropped, joined as paragraphs."""
    names = [name for name in leading if name in content]
    names += [name for name in content if name not in leading and name not in NON_TEXT_FIELDS]
    return "\n\n".join(text for text in (clean_text(content[name]) for name in names) if text)


def _article_sections(document: Document) -> list[Section]:
    return [Section(name="article", text=_prose(document.content, ("title", "subtitle", "body")))]


def _post_sections(document: Document) -> list[Section]:
    return [Section(name="post", text=_prose(document.content, ("text",)))]


def _repository_sections(document: Document) -> list[Section]:
    # Sorted by path, so chunk numbers do not depend on the order the crawler listed files in.
    files = [Section(name=path, text=clean_code(text)) for path, text in sorted(document.content.items())]
    return [file for file in files if file.text.strip()] or [Section(name=".", text="")]


SECTIONS: dict[DataCategory, Callable[[Document], list[Section]]] = {
    DataCategory.ARTICLES: _article_sections,
    DataCategory.POSTS: _post_sections,
    DataCategory.REPOSITORIES: _repository_sections,
}


def content_hash(document: Document) -> str:
    """SHA-256 of the raw content and the cleaning version: it changes when either does."""
    canonical = json.dumps(
        {"cleaning_version": CLEANING_VERSION, "content": document.content},
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def clean_document(document: Document) -> CleanedDocument:
    """A raw document's cleaned sections: one for an article or post, one per file of a repository."""
    return CleanedDocument(
        id=document.id,
        category=document.category,
        sections=SECTIONS[document.category](document),
        platform=document.platform,
        author_id=document.author_id,
        author_full_name=document.author_full_name,
        link=document.link,
        content_hash=content_hash(document),
    )
