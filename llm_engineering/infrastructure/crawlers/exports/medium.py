"""Medium's account export: one HTML page per post under `posts/`."""

from pathlib import PurePosixPath

from bs4 import BeautifulSoup
from loguru import logger

from llm_engineering.domain.documents import ArticleDocument, Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.exports.files import (
    html_to_markdown,
    open_export,
    parse_export_link,
    parse_timestamp,
)

PREFIX = "medium-export:"


class MediumExportCrawler:
    """Reads the published posts of a Medium export (`medium-export:<zip or folder>`)."""

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        """One ArticleDocument per published post; drafts (`draft_*.html`) are left out."""
        location, _ = parse_export_link(link, PREFIX)
        documents: list[Document] = []
        with open_export(location) as files:
            for name in files.in_folder("posts", (".html",)):
                if PurePosixPath(name).name.startswith("draft_"):
                    continue
                documents.append(parse_medium_post(files.read_text(name), name, author))
        logger.info("Read {} published Medium posts from {}", len(documents), location)
        return documents


def parse_medium_post(html: str, name: str, author: UserDocument) -> ArticleDocument:
    """An article from one exported post page, linked by its canonical URL."""
    page = BeautifulSoup(html, "html.parser")
    body = page.find("section", attrs={"data-field": "body"})
    if body is None:
        raise CrawlError(f"{name} has no body section; it does not look like a Medium export post.")
    # Medium repeats the title and subtitle as the body's first paragraphs and marks sections with rules.
    for repeated in body.select(".graf--title, .graf--subtitle, .section-divider"):
        repeated.decompose()
    # Its code blocks break lines with <br>, which would otherwise become Markdown hard breaks.
    for line_break in body.select("pre br"):
        line_break.replace_with("\n")
    title = page.find(class_="p-name") or page.find("title")
    subtitle = page.find("section", attrs={"data-field": "subtitle"})
    canonical = page.find("a", class_="p-canonical")
    published = page.find("time", class_="dt-published")
    stem = PurePosixPath(name).stem
    return ArticleDocument(
        content={
            "title": title.get_text(" ", strip=True) if title else stem,
            "subtitle": subtitle.get_text(" ", strip=True) if subtitle else "",
            "body": html_to_markdown(body.decode_contents()),
        },
        platform="medium",
        author_id=author.id,
        author_full_name=author.full_name,
        link=str(canonical["href"]) if canonical and canonical.get("href") else f"{PREFIX}{stem}",
        published_at=parse_timestamp(str(published.get("datetime", ""))) if published else None,
    )
