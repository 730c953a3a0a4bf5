import pytest

from llm_engineering.application.features import FeatureConfig, update_feature_store
from llm_engineering.domain.documents import ArticleDocument, PostDocument, RepositoryDocument, UserDocument
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.features import CLEANED_COLLECTIONS, EMBEDDED_COLLECTIONS
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


def run(store: InMemoryStore, index: InMemoryVectorIndex, embedder: HashingEmbedder, *names: str):
    return update_feature_store(store, index, embedder, list(names), FeatureConfig())


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
