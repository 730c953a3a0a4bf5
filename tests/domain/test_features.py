from uuid import UUID

import pytest

from llm_engineering.domain.chunking import ChunkingConfig
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import (
    CHANGE_REASONS,
    FeaturePlan,
    Fingerprint,
    IndexedDocument,
    plan_update,
)

BASE = Fingerprint(
    content_hash="a" * 64,
    cleaning_version=1,
    chunking_digest=ChunkingConfig().digest(),
    embedding_model_id="model-a",
)
DOC = UUID(int=1)


def held(fingerprint: Fingerprint | None, category: str = "articles") -> IndexedDocument:
    return IndexedDocument(category=DataCategory(category), fingerprint=fingerprint)


def test_a_document_with_the_same_fingerprint_is_unchanged() -> None:
    plan = plan_update({DOC: BASE}, {DOC: held(BASE.model_copy())})

    assert plan.counts() == {"new": 0, "changed": 0, "unchanged": 1, "removed": 0}
    assert plan.reasons == {}
    assert plan.reason_counts() == dict.fromkeys(CHANGE_REASONS, 0)


@pytest.mark.parametrize(
    ("stored", "reasons"),
    [
        ({"content_hash": "b" * 64}, ["content"]),
        # A new cleaning version changes the content hash as well: one reason, not two.
        ({"content_hash": "b" * 64, "cleaning_version": 0}, ["cleaning"]),
        ({"chunking_digest": ChunkingConfig(article_max_tokens=100).digest()}, ["chunking"]),
        ({"embedding_model_id": "model-b"}, ["embedding_model"]),
        ({"chunking_digest": "x", "embedding_model_id": "model-b"}, ["chunking", "embedding_model"]),
    ],
    ids=["content", "cleaning", "chunking", "embedding-model", "two-parts"],
)
def test_any_part_of_the_fingerprint_that_differs_plans_a_change_and_says_why(
    stored: dict[str, object], reasons: list[str]
) -> None:
    plan = plan_update({DOC: BASE}, {DOC: held(BASE.model_copy(update=stored))})

    assert plan.changed == [DOC] and plan.reasons == {DOC: reasons}
    assert plan.counts() == {"new": 0, "changed": 1, "unchanged": 0, "removed": 0}
    assert {reason for reason, n in plan.reason_counts().items() if n} == set(reasons)


def test_a_document_indexed_before_fingerprints_is_changed_as_unfingerprinted() -> None:
    plan = plan_update({DOC: BASE}, {DOC: held(None)})

    assert plan.changed == [DOC] and plan.reasons == {DOC: ["unfingerprinted"]}
    assert plan.reason_counts()["unfingerprinted"] == 1


def test_new_and_removed_documents_carry_no_reason() -> None:
    gone = UUID(int=2)
    plan = plan_update({DOC: BASE}, {gone: held(BASE, "posts")})

    assert plan.new == [DOC] and plan.removed == {gone: DataCategory.POSTS} and plan.reasons == {}


def test_reason_counts_count_each_reason_of_each_document() -> None:
    plan = FeaturePlan(
        changed=[DOC, UUID(int=2)],
        reasons={DOC: ["chunking", "embedding_model"], UUID(int=2): ["chunking"]},
    )

    assert plan.reason_counts() == {
        "content": 0,
        "cleaning": 0,
        "chunking": 2,
        "embedding_model": 1,
        "unfingerprinted": 0,
    }


def test_plan_round_trips_through_json_with_its_reasons() -> None:
    plan = plan_update({DOC: BASE}, {DOC: held(None)})

    assert FeaturePlan.model_validate_json(plan.model_dump_json()) == plan


def test_chunking_digest_is_stable_and_follows_every_setting() -> None:
    digest = ChunkingConfig().digest()

    assert digest == ChunkingConfig().digest() == ChunkingConfig(post_max_tokens=128).digest()
    assert len(digest) == 64
    changed = {
        ChunkingConfig(**{name: field.default + 1}).digest()  # type: ignore[arg-type]
        for name, field in ChunkingConfig.model_fields.items()
    }
    assert digest not in changed and len(changed) == len(ChunkingConfig.model_fields)
