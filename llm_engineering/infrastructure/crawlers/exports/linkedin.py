"""LinkedIn's data export: the author's posts are the rows of `Shares.csv`."""

import hashlib

from loguru import logger

from llm_engineering.domain.documents import Document, PostDocument, UserDocument
from llm_engineering.infrastructure.crawlers.exports.files import (
    open_export,
    parse_export_link,
    parse_timestamp,
    read_csv,
)

PREFIX = "linkedin-export:"
REQUIRED_COLUMNS = {"Date", "ShareLink", "ShareCommentary"}


class LinkedInExportCrawler:
    """Reads the posts of a LinkedIn export (`linkedin-export:<zip or folder>`)."""

    def crawl(self, link: str, author: UserDocument) -> list[Document]:
        """One PostDocument per share with commentary; reshares without text are left out."""
        location, _ = parse_export_link(link, PREFIX)
        with open_export(location) as files:
            rows = read_csv(files, files.find("Shares.csv"), REQUIRED_COLUMNS)
        documents: list[Document] = [
            share_to_post(row, author) for row in rows if row["ShareCommentary"].strip()
        ]
        logger.info("Read {} LinkedIn posts ({} rows) from {}", len(documents), len(rows), location)
        return documents


def share_to_post(row: dict[str, str], author: UserDocument) -> PostDocument:
    """A post from one Shares.csv row; LinkedIn writes its dates in UTC."""
    text = row["ShareCommentary"]
    link = row["ShareLink"].strip()
    if not link:
        # Older exports leave ShareLink blank; the date and text still name the post stably.
        digest = hashlib.sha256(f"{row['Date']}\n{text}".encode()).hexdigest()[:16]
        link = f"{PREFIX}share-{digest}"
    return PostDocument(
        content={"text": text},
        platform="linkedin",
        author_id=author.id,
        author_full_name=author.full_name,
        link=link,
        published_at=parse_timestamp(row["Date"]),
    )
