"""The raw documents the warehouse holds: users and what they wrote."""

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar, Self
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_engineering.domain.links import canonical_link


def to_bson_time(moment: datetime) -> datetime:
    """A time as BSON keeps it: UTC (naive times are taken as UTC), to the millisecond."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now() -> datetime:
    """The current time in UTC, to the millisecond that BSON dates keep."""
    return to_bson_time(datetime.now(UTC))


class DataCategory(StrEnum):
    """Warehouse collections, named as MongoDB collections."""

    USERS = "users"
    ARTICLES = "articles"
    POSTS = "posts"
    REPOSITORIES = "repositories"


class UserDocument(BaseModel):
    """A person whose writing the twin learns from."""

    model_config = ConfigDict(frozen=True)

    id: UUID = Field(default_factory=uuid4)
    first_name: str
    last_name: str
    created_at: datetime = Field(default_factory=utc_now)

    _bson_time = field_validator("created_at")(to_bson_time)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def name_key(self) -> str:
        return name_key(self.full_name)


def name_key(full_name: str) -> str:
    """What authors' names are matched by: case and spacing never tell two authors apart.

    >>> name_key("  ada   QUILL ") == name_key("Ada Quill")
    True
    """
    return " ".join(full_name.split()).casefold()


def split_full_name(full_name: str) -> tuple[str, str]:
    """Split a full name into first and last name: the last word is the last name.

    >>> split_full_name("Ada King Lovelace")
    ('Ada King', 'Lovelace')
    """
    words = full_name.split()
    if not words:
        raise ValueError("A user's full name must contain at least one word, e.g. 'Iris Calder'.")
    if len(words) == 1:
        return words[0], ""
    return " ".join(words[:-1]), words[-1]


class Document(BaseModel):
    """A piece of an author's writing, identified by the link it came from.

    `content` maps named text fields (an article's title and body, a repository's
    file paths) to their text. `link` stays as the crawler saw it, for citations; the
    document's identity is its `canonical_link`. `aliases` are other links of the same
    page, kept when duplicates are merged so that no link a document had is lost.
    """

    model_config = ConfigDict(frozen=True)
    category: ClassVar[DataCategory]

    id: UUID = Field(default_factory=uuid4)
    content: dict[str, str]
    platform: str
    author_id: UUID
    author_full_name: str
    link: str
    aliases: tuple[str, ...] = ()
    published_at: datetime | None = None
    # The author's own labels (front matter tags); outside `content`, so never embedded as text.
    tags: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    _bson_times = field_validator("published_at", "created_at", "updated_at")(
        lambda value: None if value is None else to_bson_time(value)
    )

    @property
    def canonical_link(self) -> str:
        """The identity of `link`: every variant of one page has the same."""
        return canonical_link(self.link)

    @property
    def canonical_aliases(self) -> tuple[str, ...]:
        """The identities of the aliases other than `canonical_link`, once each, in order."""
        keys = dict.fromkeys(canonical_link(alias) for alias in self.aliases)
        keys.pop(self.canonical_link, None)
        return tuple(keys)

    def with_aliases(self, links: Iterable[str]) -> Self:
        """This document, also known by `links`; a link it already has (as link or alias) is not repeated."""
        new = [link for link in dict.fromkeys(links) if link != self.link and link not in self.aliases]
        return self.model_copy(update={"aliases": (*self.aliases, *new)}) if new else self


class ArticleDocument(Document):
    """A long-form text: a blog post, a Medium or Substack article, a note."""

    category: ClassVar[DataCategory] = DataCategory.ARTICLES


class PostDocument(Document):
    """A short social post, e.g. on LinkedIn."""

    category: ClassVar[DataCategory] = DataCategory.POSTS


class RepositoryDocument(Document):
    """A code repository: `content` maps file paths to file text."""

    category: ClassVar[DataCategory] = DataCategory.REPOSITORIES

    name: str


DOCUMENT_TYPES: dict[DataCategory, type[Document]] = {
    DataCategory.ARTICLES: ArticleDocument,
    DataCategory.POSTS: PostDocument,
    DataCategory.REPOSITORIES: RepositoryDocument,
}


class RawDocuments(BaseModel):
    """The `raw_documents` artifact: what the feature pipeline read from the warehouse, and for whom."""

    authors: list[UserDocument] = Field(default_factory=list)
    articles: list[ArticleDocument] = Field(default_factory=list)
    posts: list[PostDocument] = Field(default_factory=list)
    repositories: list[RepositoryDocument] = Field(default_factory=list)

    def all(self) -> list[Document]:
        return [*self.articles, *self.posts, *self.repositories]
