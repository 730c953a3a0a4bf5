"""Splitting cleaned documents into chunks the embedding model takes whole, along paragraphs and sentences."""

import hashlib
import json
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import Chunk, CleanedDocument
from llm_engineering.domain.packing import Draft, TokenCounter, covered_text, measure, pack, verify
from llm_engineering.domain.segmentation import code_blocks, prose_blocks

FIELD_PREFIX = {
    DataCategory.POSTS: "post",
    DataCategory.ARTICLES: "article",
    DataCategory.REPOSITORIES: "repository",
}


class ChunkingConfig(BaseModel):
    """How many tokens a chunk of each category may hold, and how many it repeats from the one before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    post_max_tokens: int = Field(128, gt=0, description="Most tokens in a chunk of a post; posts are short.")
    post_overlap_tokens: int = Field(16, ge=0, description="Trailing-sentence tokens a post chunk repeats.")
    article_max_tokens: int = Field(224, gt=0, description="Most tokens in a chunk of an article.")
    article_overlap_tokens: int = Field(
        32, ge=0, description="Trailing-sentence tokens an article chunk repeats."
    )
    repository_max_tokens: int = Field(254, gt=0, description="Most tokens in a chunk of a source file.")
    repository_overlap_tokens: int = Field(0, ge=0, description="Trailing-line tokens a code chunk repeats.")

    @model_validator(mode="after")
    def _overlap_below_max(self) -> Self:
        for prefix in FIELD_PREFIX.values():
            overlap, most = getattr(self, f"{prefix}_overlap_tokens"), getattr(self, f"{prefix}_max_tokens")
            if overlap >= most:
                raise ValueError(
                    f"{prefix}_overlap_tokens={overlap} must be below {prefix}_max_tokens={most}, "
                    "or a chunk would hold nothing new; lower the overlap or raise the maximum."
                )
        return self

    def budget(self, category: DataCategory, limit: int) -> tuple[int, int]:
        """Max and overlap tokens of a category's chunks under the embedding model's `limit`."""
        if limit < 1:
            raise ValueError(f"The embedding model's token limit must be positive, not {limit}.")
        prefix = FIELD_PREFIX.get(category)
        if prefix is None:
            raise ValueError(f"{category} documents have no text to chunk.")
        most = min(getattr(self, f"{prefix}_max_tokens"), limit)
        return most, min(getattr(self, f"{prefix}_overlap_tokens"), most - 1)

    def digest(self) -> str:
        """SHA-256 of the config's canonical JSON, for the fingerprint of every document it chunks."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def chunk_document(
    document: CleanedDocument, count_tokens: TokenCounter, limit: int, config: ChunkingConfig
) -> list[Chunk]:
    """Chunks of at most the category's max tokens (and `limit`), never crossing sections; at least one.

    `count_tokens` counts the content tokens of each text in a batch, as the embedding model's tokenizer does.
    """
    max_tokens, overlap_tokens = config.budget(document.category, limit)
    split = code_blocks if document.category is DataCategory.REPOSITORIES else prose_blocks
    texts = [section.text for section in document.sections]
    blocks = [split(text) for text in texts]
    units = [
        (text, span) for text, spans in zip(texts, blocks, strict=True) for block in spans for span in block
    ]
    measured = iter(measure(units, count_tokens, max_tokens))
    drafts: list[Draft] = []
    for section, section_blocks in enumerate(blocks):
        pieces = [[piece for _ in block for piece in next(measured)] for block in section_blocks]
        drafts += [(section, chunk) for chunk in pack(pieces, max_tokens, overlap_tokens)]
    drafts = [draft for group in verify(drafts, texts, count_tokens, max_tokens) for draft in group]
    if not drafts:
        return [_chunk(document, 0, document.sections[0].name if document.sections else "", "")]
    return [
        _chunk(document, index, document.sections[section].name, covered_text(texts[section], pieces))
        for index, (section, pieces) in enumerate(drafts)
    ]


def _chunk(document: CleanedDocument, index: int, section: str, content: str) -> Chunk:
    return Chunk(
        document_id=document.id,
        chunk_index=index,
        section=section,
        content=content,
        category=document.category,
        platform=document.platform,
        author_id=document.author_id,
        author_full_name=document.author_full_name,
        link=document.link,
    )
