"""A local folder of Markdown and HTML notes, one article per file."""

import re
from pathlib import Path

from bs4 import BeautifulSoup
from loguru import logger

from llm_engineering.domain.documents import ArticleDocument, Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.exports.files import (
    ExportFiles,
    html_to_markdown,
    parse_export_link,
)

PREFIX = "folder:"
MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
FENCE = re.compile(r"^\s*(```|~~~)")


class FolderCrawler:
    """Reads every Markdown and HTML file under a folder (`folder:<path>`), recursively."""

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        """One ArticleDocument per file, linked by the file's `file://` URI."""
        location, _ = parse_export_link(link, PREFIX)
        if not location.is_dir():
            raise CrawlError(f"No folder at {location}; `folder:` takes a folder of .md or .html files.")
        files = ExportFiles(location)
        # Hidden folders (.git, .obsidian, …) hold tooling state, not writing.
        names = [
            name
            for name in files.names
            if name.lower().endswith(MARKDOWN_SUFFIXES + HTML_SUFFIXES)
            and not any(part.startswith(".") for part in name.split("/")[:-1])
        ]
        if not names:
            raise CrawlError(f"{location} holds no .md, .markdown, .html or .htm files.")
        documents: list[Document] = [
            note_article(location / name, files.read_text(name), author) for name in names
        ]
        logger.info("Read {} notes from {}", len(documents), location)
        return documents


def note_article(path: Path, text: str, author: UserDocument) -> ArticleDocument:
    """An article from one note file, titled by its first heading or else its file name."""
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        title, body = markdown_title(text) or path.stem, text.strip()
    else:
        title, body = html_title(text) or path.stem, html_body_markdown(text)
    return ArticleDocument(
        content={"title": title, "body": body},
        platform="local",
        author_id=author.id,
        author_full_name=author.full_name,
        link=path.resolve().as_uri(),
    )


def markdown_title(text: str) -> str:
    """The first level-one `# ` heading outside code fences, or "" when there is none.

    >>> markdown_title("```sh\\n# not a title\\n```\\n# Notes on chunking\\n")
    'Notes on chunking'
    """
    in_fence = False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and line.startswith("# "):
            return line[2:].strip().rstrip("#").strip()
    return ""


def html_title(html: str) -> str:
    """The text of the first <h1>, else of <title>, or "" when there is neither."""
    page = BeautifulSoup(html, "html.parser")
    for tag in ("h1", "title"):
        element = page.find(tag)
        if element and element.get_text(strip=True):
            return element.get_text(" ", strip=True)
    return ""


def html_body_markdown(html: str) -> str:
    """Markdown of a page's <body> (or the whole text when it is a fragment), without scripts and styles."""
    page = BeautifulSoup(html, "html.parser")
    for element in page.find_all(["script", "style", "head"]):
        element.decompose()
    root = page.body or page
    return html_to_markdown(root.decode_contents())
