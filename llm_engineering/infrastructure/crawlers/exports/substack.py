"""Substack's export: `posts.csv` lists the posts, `posts/<post_id>.html` holds each body."""

import re

from loguru import logger

from llm_engineering.domain.documents import ArticleDocument, Document, UserDocument
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.crawlers.exports.files import (
    ExportFiles,
    html_to_markdown,
    open_export,
    parse_export_link,
    parse_timestamp,
    read_csv,
)

PREFIX = "substack-export:"
REQUIRED_COLUMNS = {"post_id", "post_date", "is_published", "title"}
PUBLICATION = re.compile(r"^[a-z0-9-]+$")


class SubstackExportCrawler:
    """Reads the published posts of a Substack export (`substack-export:<zip or folder>[?publication=name]`).

    With `publication`, each post is linked by its public URL; without it, by `substack-export:<post_id>`.
    """

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        """One ArticleDocument per published post."""
        location, options = parse_export_link(link, PREFIX)
        publication = options.get("publication", "").strip().lower()
        if publication and not PUBLICATION.match(publication):
            raise CrawlError(
                f"{publication!r} is not a Substack publication name (the <name> of name.substack.com)."
            )
        documents: list[Document] = []
        with open_export(location) as files:
            rows = read_csv(files, files.find("posts.csv"), REQUIRED_COLUMNS)
            bodies = {
                name.rsplit("/", 1)[-1].removesuffix(".html"): name
                for name in files.in_folder("posts", (".html",))
            }
            for row in rows:
                if row["is_published"].strip().lower() != "true":
                    continue
                documents.append(
                    substack_post(row, read_body(files, bodies, row["post_id"]), publication, author)
                )
        logger.info(
            "Read {} published Substack posts ({} listed) from {}", len(documents), len(rows), location
        )
        return documents


def read_body(files: ExportFiles, bodies: dict[str, str], post_id: str) -> str:
    """The body HTML of a listed post."""
    if post_id not in bodies:
        raise CrawlError(
            f"posts.csv in {files.location} lists {post_id} but posts/{post_id}.html is missing."
        )
    return files.read_text(bodies[post_id])


def substack_post(
    row: dict[str, str], body_html: str, publication: str, author: UserDocument
) -> ArticleDocument:
    """An article from a posts.csv row and its body HTML."""
    post_id = row["post_id"].strip()
    slug = post_id.partition(".")[2] or post_id
    link = f"https://{publication}.substack.com/p/{slug}" if publication else f"{PREFIX}{post_id}"
    return ArticleDocument(
        content={
            "title": row["title"].strip(),
            "subtitle": row.get("subtitle", "").strip(),
            "body": html_to_markdown(body_html),
        },
        platform="substack",
        author_id=author.id,
        author_full_name=author.full_name,
        link=link,
        # The same post imported without ?publication= is linked by its export id: both name one page.
        aliases=(f"{PREFIX}{post_id}",) if publication else (),
        published_at=parse_timestamp(row["post_date"]),
    )
