"""A local folder of Markdown and HTML notes, one article per file."""

import re
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from bs4 import BeautifulSoup
from frontmatter.default_handlers import BaseHandler, YAMLHandler
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


class TomllibHandler(BaseHandler):
    """Hugo's `+++` TOML front matter, read with the standard library (the package's own needs `toml`)."""

    FM_BOUNDARY = re.compile(r"^\+{3,}\s*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = "+++"

    def load(self, fm: str, **kwargs: object) -> Any:
        return tomllib.loads(fm)


# Jekyll, Hugo and Obsidian notes open with `---` YAML; Hugo's may open with `+++` TOML.
FRONT_MATTER_HANDLERS = (YAMLHandler(), TomllibHandler())
# Obsidian's own properties name the creation date `created`.
DATE_KEYS = ("date", "created")


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
    """An article from one note file, titled by its front matter, else its first heading, else its name."""
    metadata: dict[str, Any] = {}
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        metadata, body = split_front_matter(text, path)
        title = str(metadata.get("title") or "").strip() or markdown_title(body) or path.stem
    else:
        title, body = html_title(text) or path.stem, html_body_markdown(text)
    return ArticleDocument(
        content={"title": title, "body": body},
        platform="local",
        author_id=author.id,
        author_full_name=author.full_name,
        link=path.resolve().as_uri(),
        published_at=front_matter_date(metadata, path),
        tags=front_matter_tags(metadata.get("tags")),
    )


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """A note's YAML (`---`) or TOML (`+++`) front matter and its body without it; ({}, text) if none."""
    handler = frontmatter.detect_format(text.strip(), FRONT_MATTER_HANDLERS)
    if handler is None:
        return {}, text.strip()
    try:
        metadata, body = frontmatter.parse(text, handler=handler)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
        kind = "TOML" if isinstance(handler, TomllibHandler) else "YAML"
        raise CrawlError(
            f"The front matter of {path} is not valid {kind} ({error}); fix it or remove that block."
        ) from error
    return metadata, body


def front_matter_date(metadata: dict[str, Any], path: Path) -> datetime | None:
    """The note's `date` (or Obsidian's `created`) as a time; naive times are taken as UTC."""
    value = next((metadata[key] for key in DATE_KEYS if metadata.get(key)), None)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            # A free-form date should not cost the author the note itself.
            logger.warning("{}: date {!r} is not ISO 8601; storing the note without it", path, value)
    return None


def front_matter_tags(value: object) -> list[str]:
    """Tags as a list, from a YAML/TOML list or a string of comma- or space-separated tags.

    >>> front_matter_tags(["rag", "#evals"]), front_matter_tags("rag, evals"), front_matter_tags("rag evals")
    (['rag', 'evals'], ['rag', 'evals'], ['rag', 'evals'])
    """
    if isinstance(value, str):
        items: list[object] = value.split(",") if "," in value else value.split()
    elif isinstance(value, list):
        items = value
    else:
        return []
    tags = (str(item).strip().lstrip("#") for item in items if item is not None)
    return [tag for tag in tags if tag]


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
