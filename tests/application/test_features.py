import pytest

from llm_engineering.application.features import (
    FeatureConfig,
    clean_documents,
    cleaned_payload,
    query_data_warehouse,
    stored_fingerprint,
    update_feature_store,
)
from llm_engineering.domain.chunking import ChunkingConfig
from llm_engineering.domain.cleaning import CLEANING_VERSION
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import MassRemovalError, TwinError
from llm_engineering.domain.features import (
    CLEANED_COLLECTIONS,
    EMBEDDED_COLLECTIONS,
    CleanedDocument,
    Fingerprint,
)
from tests.support.fakes import HashingEmbedder, InMemoryStore, InMemoryVectorIndex

LONG_BODY = "\n\n".join(
    f"Paragraph {n} says the pipeline is boring on purpose, and that is fine." for n in range(12)
)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def index() -> InMemoryVectorIndex:
    return InMemoryVectorIndex()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


def author_documents(store: InMemoryStore, name: str) -> tuple[UserDocument, list[str]]:
    user = store.get_or_create_user(*name.split())
    common = {"author_id": user.id, "author_full_name": user.full_name}
    documents = [
        ArticleDocument(
            content={"title": "Boring", "body": LONG_BODY},
            platform="blog",
            link=f"https://{name}/a",
            **common,
        ),
        PostDocument(
            content={"text": "Short post."}, platform="linkedin", link=f"https://{name}/p", **common
        ),
        RepositoryDocument(
            name="r",
            content={"a.py": "x = 1\n", "b.py": "def f():\n    return 2\n"},
            platform="git",
            link=f"https://{name}/r",
            **common,
        ),
    ]
    for document in documents:
        store.insert(document)
    return user, [document.link for document in documents]


def run(
    store: InMemoryStore,
    index: InMemoryVectorIndex,
    embedder: HashingEmbedder,
    *names: str,
    config: FeatureConfig = FeatureConfig(),  # noqa: B008 - frozen
):
    return update_feature_store(store, index, embedder, list(names), config)


# Below HashingEmbedder's 40-token limit, so these configs cut the long article differently.
FINE = FeatureConfig(chunking=ChunkingConfig(article_max_tokens=12, article_overlap_tokens=0))
COARSE = FeatureConfig(chunking=ChunkingConfig(article_max_tokens=30, article_overlap_tokens=0))


class RenamedHashingEmbedder(HashingEmbedder):
    """The same vectors and dimension under another model id, as a retrained model of one size would be."""

    model_id = "hashing-test-v2"


def chunk_points(index: InMemoryVectorIndex, document_id) -> list:
    return [
        point
        for collection in EMBEDDED_COLLECTIONS.values()
        for point in index.scroll(collection, {"document_id": str(document_id)})
    ]


def test_first_run_indexes_every_document_with_chunks_and_hashes(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    embedded = run(store, index, embedder, "Iris Calder")

    assert embedded.plan.counts() == {"new": 3, "changed": 0, "unchanged": 0, "removed": 0}
    for category, collection in CLEANED_COLLECTIONS.items():
        [point] = list(index.scroll(collection))
        assert point.payload["content_hash"] and point.payload["category"] == category
    assert index.count(EMBEDDED_COLLECTIONS["articles"]) > 1  # the long article is split
    assert {p.payload["section"] for p in index.scroll(EMBEDDED_COLLECTIONS["repositories"])} == {
        "a.py",
        "b.py",
    }
    assert (
        len(embedder.embedded)
        == len(embedded.chunks)
        == sum(index.count(c) for c in EMBEDDED_COLLECTIONS.values())
    )


def test_rerun_with_nothing_changed_embeds_nothing(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder")
    before = {c: index.count(c) for c in EMBEDDED_COLLECTIONS.values()}
    embedder.embedded.clear()

    embedded = run(store, index, embedder, "Iris Calder")

    assert embedded.plan.counts() == {"new": 0, "changed": 0, "unchanged": 3, "removed": 0}
    assert embedder.embedded == []
    assert {c: index.count(c) for c in EMBEDDED_COLLECTIONS.values()} == before


def test_changed_document_replaces_all_its_old_chunks(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder")
    article = next(d for d in store.documents.values() if isinstance(d, ArticleDocument))
    assert len(chunk_points(index, article.id)) > 1
    store.upsert(article.model_copy(update={"content": {"title": "Boring", "body": "Now it is short."}}))

    embedded = run(store, index, embedder, "Iris Calder")

    assert embedded.plan.changed == [article.id]
    [only] = chunk_points(index, article.id)
    assert "Now it is short." in only.payload["content"]


def test_document_deleted_from_the_warehouse_loses_its_points(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder")
    post = next(d for d in store.documents.values() if isinstance(d, PostDocument))
    del store.documents[post.id]

    embedded = run(store, index, embedder, "Iris Calder")

    assert list(embedded.plan.removed) == [post.id]
    assert chunk_points(index, post.id) == []
    assert index.count(CLEANED_COLLECTIONS["posts"]) == 0


def test_other_authors_features_are_left_alone(store, index, embedder) -> None:
    other, _ = author_documents(store, "Ada Lovelace")
    run(store, index, embedder, "Ada Lovelace")
    author_documents(store, "Iris Calder")

    embedded = run(store, index, embedder, "Iris Calder")

    assert embedded.plan.removed == {}
    assert index.count(CLEANED_COLLECTIONS["articles"], {"author_id": str(other.id)}) == 1


def test_a_run_that_lost_its_hashes_overwrites_instead_of_duplicating(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder")
    counts = {c: index.count(c) for c in EMBEDDED_COLLECTIONS.values()}
    for collection in CLEANED_COLLECTIONS.values():
        index.collections[collection].clear()

    run(store, index, embedder, "Iris Calder")

    assert {c: index.count(c) for c in EMBEDDED_COLLECTIONS.values()} == counts


def test_unknown_author_is_refused_naming_the_known_ones(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    with pytest.raises(TwinError, match="known: Iris Calder"):
        run(store, index, embedder, "Nobody Here")
    assert store.find_user("Nobody", "Here") is None


def chunk_keys(index: InMemoryVectorIndex) -> dict[str, set[tuple[str, int]]]:
    """(document id, chunk index) of every chunk point, per embedded collection."""
    return {
        collection: {(p.payload["document_id"], p.payload["chunk_index"]) for p in index.scroll(collection)}
        for collection in EMBEDDED_COLLECTIONS.values()
    }


def fresh_chunk_keys(store: InMemoryStore, config: FeatureConfig) -> dict[str, set[tuple[str, int]]]:
    """What the same warehouse and config give on an empty feature store."""
    index = InMemoryVectorIndex()
    run(store, index, HashingEmbedder(), "Iris Calder", config=config)
    return chunk_keys(index)


def stored_fingerprints(index: InMemoryVectorIndex) -> list[Fingerprint | None]:
    return [
        stored_fingerprint(point.payload)
        for collection in CLEANED_COLLECTIONS.values()
        for point in index.scroll(collection)
    ]


def test_a_new_chunking_config_reindexes_to_what_an_empty_store_would_hold(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder")
    before = chunk_keys(index)

    embedded = run(store, index, embedder, "Iris Calder", config=FINE)

    assert embedded.plan.counts() == {"new": 0, "changed": 3, "unchanged": 0, "removed": 0}
    assert embedded.plan.reasons == {doc_id: ["chunking"] for doc_id in embedded.plan.changed}
    assert embedded.plan.reason_counts()["chunking"] == 3
    assert chunk_keys(index) == fresh_chunk_keys(store, FINE) != before
    assert {f.chunking_digest for f in stored_fingerprints(index) if f} == {FINE.chunking.digest()}


def test_a_new_embedding_model_of_the_same_size_reembeds_everything(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder")
    before = chunk_keys(index)
    renamed = RenamedHashingEmbedder()

    embedded = run(store, index, renamed, "Iris Calder")

    assert embedded.plan.counts() == {"new": 0, "changed": 3, "unchanged": 0, "removed": 0}
    assert embedded.plan.reasons == {doc_id: ["embedding_model"] for doc_id in embedded.plan.changed}
    assert embedded.plan.reason_counts()["embedding_model"] == 3
    assert len(renamed.embedded) == sum(len(keys) for keys in before.values())
    assert chunk_keys(index) == before
    assert {f.embedding_model_id for f in stored_fingerprints(index) if f} == {"hashing-test-v2"}


def test_an_unchanged_rerun_under_a_custom_config_changes_nothing(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder", config=FINE)
    before = chunk_keys(index)
    embedder.embedded.clear()

    embedded = run(store, index, embedder, "Iris Calder", config=FINE)

    assert embedded.plan.counts() == {"new": 0, "changed": 0, "unchanged": 3, "removed": 0}
    assert embedded.plan.reasons == {} and not any(embedded.plan.reason_counts().values())
    assert embedder.embedded == [] and chunk_keys(index) == before
    assert {
        (f.cleaning_version, f.chunking_digest, f.embedding_model_id) if f else None
        for f in stored_fingerprints(index)
    } == {(CLEANING_VERSION, FINE.chunking.digest(), "hashing-test")}


def test_a_cut_into_fewer_chunks_leaves_no_orphan_points(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder", config=FINE)
    fine = chunk_keys(index)

    embedded = run(store, index, embedder, "Iris Calder", config=COARSE)

    coarse = fresh_chunk_keys(store, COARSE)
    assert len(coarse["embedded_articles"]) < len(fine["embedded_articles"])
    assert embedded.plan.reason_counts()["chunking"] == 3
    assert chunk_keys(index) == coarse
    assert index.count("embedded_articles") == len(coarse["embedded_articles"])


def test_points_indexed_before_fingerprints_are_reindexed_as_unfingerprinted(store, index, embedder) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder")
    before = chunk_keys(index)
    # Runs before fingerprints stored the content hash alone.
    legacy_fields = set(Fingerprint.model_fields) - {"content_hash"}
    for collection in CLEANED_COLLECTIONS.values():
        points = index.collections[collection]
        for point_id, point in points.items():
            payload = {k: v for k, v in point.payload.items() if k not in legacy_fields}
            points[point_id] = point.model_copy(update={"payload": payload})
    assert stored_fingerprints(index) == [None, None, None]

    embedded = run(store, index, embedder, "Iris Calder")

    assert embedded.plan.counts() == {"new": 0, "changed": 3, "unchanged": 0, "removed": 0}
    assert embedded.plan.reasons == {doc_id: ["unfingerprinted"] for doc_id in embedded.plan.changed}
    assert embedded.plan.reason_counts()["unfingerprinted"] == 3
    assert None not in stored_fingerprints(index) and chunk_keys(index) == before


def test_cleaned_payload_round_trips_its_document_and_fingerprint(store) -> None:
    author_documents(store, "Iris Calder")
    document = clean_documents(query_data_warehouse(store, ["Iris Calder"]))[0]
    fingerprint = Fingerprint(
        content_hash=document.content_hash,
        cleaning_version=CLEANING_VERSION,
        chunking_digest=ChunkingConfig().digest(),
        embedding_model_id="m",
    )

    payload = cleaned_payload(document, fingerprint)

    assert stored_fingerprint(payload) == fingerprint
    assert payload["content_hash"] == document.content_hash
    assert CleanedDocument.model_validate({**payload, "id": payload["document_id"]}) == document


def all_counts(index: InMemoryVectorIndex) -> dict[str, int]:
    return {c: index.count(c) for c in [*CLEANED_COLLECTIONS.values(), *EMBEDDED_COLLECTIONS.values()]}


def test_a_run_that_would_remove_most_of_an_authors_documents_refuses_before_deleting(
    store, index, embedder
) -> None:
    author_documents(store, "Ada Lovelace")
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Ada Lovelace", "Iris Calder")
    before = all_counts(index)
    lost = [d.id for d in store.documents.values() if d.author_full_name == "Iris Calder"][:2]
    for doc_id in lost:
        del store.documents[doc_id]  # as a damaged warehouse loses them

    with pytest.raises(MassRemovalError) as refused:
        run(store, index, embedder, "Ada Lovelace", "Iris Calder")

    message = str(refused.value)
    assert "2 of the 3 indexed documents of Iris Calder" in message and "Ada Lovelace" not in message
    assert "max_removal_share (50%)" in message
    assert "poe run-import-data-warehouse-from-json" in message and "--allow-mass-removal" in message
    assert all_counts(index) == before

    embedded = run(
        store, index, embedder, "Ada Lovelace", "Iris Calder", config=FeatureConfig(allow_mass_removal=True)
    )

    assert set(embedded.plan.removed) == set(lost)
    assert all(chunk_points(index, doc_id) == [] for doc_id in lost)
    assert sum(index.count(c) for c in CLEANED_COLLECTIONS.values()) == 4


@pytest.mark.parametrize(("max_removal_share", "refused"), [(0.5, False), (0.3, True), (1.0, False)])
def test_max_removal_share_bounds_the_share_of_an_authors_documents_one_run_removes(
    store, index, embedder, max_removal_share: float, refused: bool
) -> None:
    author_documents(store, "Iris Calder")
    run(store, index, embedder, "Iris Calder")
    post = next(d for d in store.documents.values() if isinstance(d, PostDocument))
    del store.documents[post.id]  # 1 of 3
    config = FeatureConfig(max_removal_share=max_removal_share)

    if refused:
        with pytest.raises(MassRemovalError, match="1 of the 3 indexed documents of Iris Calder"):
            run(store, index, embedder, "Iris Calder", config=config)
    else:
        assert list(run(store, index, embedder, "Iris Calder", config=config).plan.removed) == [post.id]
