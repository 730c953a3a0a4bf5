"""Conversion of a warehouse exported by the LLM Engineer's Handbook into our documents.

That export holds one JSON list per document class (`UserDocument.json`, ...); each item
carries its id as `_id`. Articles keep their text under `Title`, `Subtitle`, `Content`;
posts and repositories under free-form names. Older exports lack `author_full_name`, and
posts there may have no `link`.
"""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from llm_engineering.domain.documents import DOCUMENT_TYPES, DataCategory, Document, UserDocument

HANDBOOK_FILE_NAMES: dict[DataCategory, str] = {
    DataCategory.USERS: "UserDocument.json",
    DataCategory.ARTICLES: "ArticleDocument.json",
    DataCategory.POSTS: "PostDocument.json",
    DataCategory.REPOSITORIES: "RepositoryDocument.json",
}

ARTICLE_FIELD_NAMES = {"Title": "title", "Subtitle": "subtitle", "Content": "body", "language": "language"}

# A handbook post may have no link, but ours are identified by one: this stable stand-in
# keeps a re-import of the same post from creating a second copy.
POST_LINK_PREFIX = "handbook-post:"


def require(item: Mapping[str, Any], field: str) -> Any:
    """The value of a required field, or a ValueError that names it."""
    if item.get(field) is None:
        raise ValueError(f"the required field {field!r} is missing or null")
    return item[field]


def parse_uuid(item: Mapping[str, Any], field: str) -> UUID:
    """A required field read as a UUID, e.g. `_id` or `author_id`."""
    value = require(item, field)
    try:
        return UUID(str(value))
    except ValueError:
        raise ValueError(f"{field}={value!r} is not a UUID such as '{UUID(int=0)}'") from None


def content_from_handbook(category: DataCategory, content: Any) -> dict[str, str]:
    """Named texts: article fields renamed to ours, other values as text, nulls dropped.

    >>> content_from_handbook(DataCategory.ARTICLES, {"Title": "T", "Content": "B", "Subtitle": None})
    {'title': 'T', 'body': 'B'}
    """
    if not isinstance(content, Mapping):
        raise ValueError(f"'content' must be an object of named texts, not {type(content).__name__}")
    names = ARTICLE_FIELD_NAMES if category is DataCategory.ARTICLES else {}
    return {names.get(str(key), str(key)): str(value) for key, value in content.items() if value is not None}


def user_from_handbook(item: Mapping[str, Any]) -> UserDocument:
    """A handbook user as ours, keeping its id."""
    return UserDocument(
        id=parse_uuid(item, "_id"),
        first_name=require(item, "first_name"),
        last_name=require(item, "last_name"),
    )


def document_from_handbook(
    category: DataCategory, item: Mapping[str, Any], author_names: Mapping[UUID, str]
) -> Document:
    """A handbook document as ours, keeping its id.

    `author_names` gives the full name of authors whose documents do not carry one.
    """
    document_id = parse_uuid(item, "_id")
    author_id = parse_uuid(item, "author_id")
    content = content_from_handbook(category, require(item, "content"))
    if category is DataCategory.POSTS and item.get("image") is not None:
        content.setdefault("image", str(item["image"]))
    author_full_name = item.get("author_full_name") or author_names.get(author_id)
    if not author_full_name:
        raise ValueError(f"'author_full_name' is missing and no user has _id {author_id}")
    link = item.get("link")
    if category is DataCategory.POSTS and link is None:
        link = f"{POST_LINK_PREFIX}{document_id}"
    fields: dict[str, Any] = {
        "id": document_id,
        "content": content,
        "platform": require(item, "platform"),
        "author_id": author_id,
        "author_full_name": author_full_name,
        "link": link if link is not None else require(item, "link"),
    }
    if category is DataCategory.REPOSITORIES:
        fields["name"] = require(item, "name")
    return DOCUMENT_TYPES[category].model_validate(fields)
