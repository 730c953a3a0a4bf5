"""One contract for every feature store backend: qdrant-edge, qdrant-client local mode, a Qdrant server."""

import math
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import UnexpectedResponse

from llm_engineering.application.ports import VectorIndex, VectorPoint
from llm_engineering.domain.exceptions import FeatureStoreUnavailableError
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.vector_index import ClientVectorIndex, EdgeVectorIndex, open_vector_index
from tests.support.http_server import LocalServer

# qdrant-client's local mode keeps no payload indexes and says so once; the server and edge do keep them.
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")

SERVER_MISSING = "TEST_QDRANT_URL is not set: point it at a Qdrant server to run these tests against it"
BATCH, PAGE = 7, 5  # small, so upserts and scrolls cross several batches and pages
ADA, BO = str(uuid4()), str(uuid4())

Index = EdgeVectorIndex | ClientVectorIndex
Opener = Callable[[], Index]


def opener_for(backend: str, root: Path) -> Opener:
    if backend == "edge":
        return lambda: EdgeVectorIndex(root, batch_size=BATCH, page_size=PAGE)
    if backend == "client-local":
        return lambda: ClientVectorIndex(QdrantClient(path=str(root)), batch_size=BATCH, page_size=PAGE)
    url = os.environ.get("TEST_QDRANT_URL") or pytest.skip(SERVER_MISSING)
    return lambda: ClientVectorIndex(QdrantClient(url=url, timeout=10), batch_size=BATCH, page_size=PAGE)


@pytest.fixture(params=["edge", "client-local", pytest.param("server", marks=pytest.mark.integration)])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Close the last index and open the same store again; the first call opens the index under test."""
    opener = opener_for(request.param, tmp_path / "qdrant")
    opened: list[Index] = []

    def reopen_store() -> Index:
        if opened:
            opened[-1].close()
        opened.append(opener())
        return opened[-1]

    yield reopen_store
    if opened:
        last = opened[-1]
        if isinstance(last, ClientVectorIndex) and request.param == "server":
            for name in request.node.funcargs.get("created", []):
                last.client.delete_collection(name)
        last.close()


@pytest.fixture
def index(reopen: Opener) -> VectorIndex:
    return reopen()


@pytest.fixture
def created() -> list[str]:
    """Collection names a test uses, unique so server runs never collide; dropped after a server test."""
    return [f"embedded_test_{uuid4().hex[:10]}", f"cleaned_test_{uuid4().hex[:10]}"]


def point(vector: list[float] | None, author: str = ADA, **payload: object) -> VectorPoint:
    return VectorPoint(
        id=uuid4(), vector=vector, payload={"author_id": author, "document_id": "d0", **payload}
    )


def unit(angle_degrees: float) -> list[float]:
    """A 3-d vector at `angle_degrees` from (1, 0, 0) in the x-y plane, scaled so its norm is not 1."""
    radians = math.radians(angle_degrees)
    return [3 * math.cos(radians), 3 * math.sin(radians), 0.0]


def test_ensure_collection_is_idempotent(index: VectorIndex, created: list[str]) -> None:
    name = created[0]
    index.ensure_collection(name, 3)
    index.upsert(name, [point([1, 0, 0]), point([0, 1, 0])])
    index.ensure_collection(name, 3)
    assert index.count(name) == 2
    with pytest.raises(ValueError, match="another layout"):
        index.ensure_collection(name, 4)


def test_payload_only_collection_round_trips(index: VectorIndex, created: list[str]) -> None:
    name = created[1]
    index.ensure_collection(name, None)
    index.ensure_collection(name, None)
    points = [point(None, content=f"cleaned text {i}") for i in range(3)]
    index.upsert(name, points)
    assert index.count(name) == 3
    assert {p.id: p.payload for p in index.scroll(name)} == {p.id: p.payload for p in points}
    with pytest.raises(ValueError, match="another layout"):
        index.ensure_collection(name, 3)


def test_upsert_same_ids_overwrites(index: VectorIndex, created: list[str]) -> None:
    name = created[0]
    index.ensure_collection(name, 3)
    first = [point([1, 0, i], content="v1") for i in range(10)]
    index.upsert(name, first)
    index.upsert(name, [p.model_copy(update={"payload": {**p.payload, "content": "v2"}}) for p in first])
    assert index.count(name) == 10
    assert {p.payload["content"] for p in index.scroll(name)} == {"v2"}


def test_point_round_trip_keeps_ids_nested_values_and_unicode(index: VectorIndex, created: list[str]) -> None:
    name = created[0]
    index.ensure_collection(name, 3)
    payload = {
        "author_full_name": "Zoë Ångström",
        "content": "naïve café — 東京 🚀",
        "meta": {"tags": ["a", "b"]},
    }
    stored = point([0.2, 0.4, 0.9], chunk_index=3, score_hint=0.5, draft=False, extra=None, **payload)
    index.upsert(name, [stored])
    (scrolled,) = list(index.scroll(name))
    assert isinstance(scrolled.id, UUID)
    assert scrolled == stored.model_copy(update={"vector": None})
    (hit,) = index.search(name, [0.2, 0.4, 0.9], limit=5)
    assert (hit.id, hit.payload) == (stored.id, stored.payload)
    assert hit.score == pytest.approx(1.0, abs=1e-5)


def test_delete_where_by_one_value_and_by_a_list(index: VectorIndex, created: list[str]) -> None:
    name = created[0]
    index.ensure_collection(name, 3)
    index.upsert(name, [point([1, 0, i], document_id=f"d{i % 4}") for i in range(12)])
    index.delete_where(name, {"document_id": "d1"})
    assert index.count(name) == 9
    index.delete_where(name, {"document_id": ["d2", "d3"]})
    assert {p.payload["document_id"] for p in index.scroll(name)} == {"d0"}
    with pytest.raises(ValueError, match="every point"):
        index.delete_where(name, {})
    assert index.count(name) == 3


def test_scroll_pages_through_every_matching_point(index: VectorIndex, created: list[str]) -> None:
    name = created[0]
    index.ensure_collection(name, 3)
    points = [point([1, 0, i], author=ADA if i % 3 else BO) for i in range(4 * PAGE + 3)]
    index.upsert(name, points)
    scrolled = list(index.scroll(name))
    assert sorted(p.id for p in scrolled) == sorted(p.id for p in points)
    by_bo = [p.id for p in index.scroll(name, {"author_id": BO})]
    assert len(by_bo) == len(set(by_bo)) > PAGE
    assert set(by_bo) == {p.id for p in points if p.payload["author_id"] == BO}


def test_search_ranks_by_cosine_and_honours_filter_and_limit(index: VectorIndex, created: list[str]) -> None:
    name = created[0]
    index.ensure_collection(name, 3)
    angles = {0: ADA, 10: BO, 30: ADA, 60: ADA, 90: BO, 120: ADA, 180: ADA}
    points = {angle: point(unit(angle), author=author, angle=angle) for angle, author in angles.items()}
    index.upsert(name, list(points.values()))
    hits = index.search(name, [1.0, 0.0, 0.0], limit=4)
    assert [hit.payload["angle"] for hit in hits] == [0, 10, 30, 60]
    assert [hit.score for hit in hits] == pytest.approx([math.cos(math.radians(a)) for a in (0, 10, 30, 60)])
    ada_hits = index.search(name, unit(15), limit=3, where={"author_id": ADA})
    assert [hit.payload["angle"] for hit in ada_hits] == [0, 30, 60]
    assert [hit.id for hit in index.search(name, unit(0), limit=10, where={"author_id": BO})] == [
        points[10].id,
        points[90].id,
    ]


def test_count_with_where(index: VectorIndex, created: list[str]) -> None:
    name = created[0]
    index.ensure_collection(name, 3)
    index.upsert(name, [point([1, i, 0], author=ADA if i < 5 else BO, platform="medium") for i in range(8)])
    assert index.count(name) == 8
    assert index.count(name, {"author_id": ADA}) == 5
    assert index.count(name, {"author_id": [ADA, BO], "platform": "medium"}) == 8
    assert index.count(name, {"author_id": BO, "platform": "github"}) == 0


def test_a_reopened_store_sees_the_data(reopen: Opener, created: list[str]) -> None:
    name = created[0]
    first = reopen()
    first.ensure_collection(name, 3)
    first.upsert(name, [point([1, 0, 0], author=BO), point([0, 1, 0])])
    second = reopen()
    assert second.count(name, {"author_id": BO}) == 1
    assert second.search(name, [1, 0, 0], limit=1)[0].payload["author_id"] == BO
    second.ensure_collection(name, 3)
    with pytest.raises(ValueError, match="another layout"):
        second.ensure_collection(name, 8)


def test_a_missing_collection_says_what_to_do(index: VectorIndex, created: list[str]) -> None:
    with pytest.raises(FeatureStoreUnavailableError, match="feature engineering pipeline"):
        index.count(created[0])
    with pytest.raises(FeatureStoreUnavailableError, match="feature engineering pipeline"):
        index.upsert(created[0], [point([1, 0, 0])])


def test_edge_store_can_be_read_while_another_index_holds_it(tmp_path: Path) -> None:
    writer = EdgeVectorIndex(tmp_path)
    writer.ensure_collection("embedded_posts", 3)
    writer.upsert("embedded_posts", [point([1, 0, 0])])
    reader = EdgeVectorIndex(tmp_path)  # as another process would: no lock stops it
    assert reader.count("embedded_posts") == 1
    reader.close()
    writer.close()


def test_open_vector_index_defaults_to_the_embedded_store(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, qdrant_url=None)  # type: ignore[call-arg]
    index = open_vector_index(settings)
    assert isinstance(index, EdgeVectorIndex)
    assert index.root == tmp_path / "qdrant"


def test_open_vector_index_fails_fast_on_an_unreachable_server(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = Settings(_env_file=None, data_dir=tmp_path, qdrant_url=url, qdrant_timeout_s=2)  # type: ignore[call-arg]
    with pytest.raises(FeatureStoreUnavailableError, match="unset QDRANT_URL"):
        open_vector_index(settings)


# --- a Qdrant server that cannot be reached ----------------------------------------------------------

# The REST paths of the calls below on collection "embedded_posts" (upsert's PUT is not among them: the local
# test server answers only GET and POST).
POINT_PATHS = {
    "delete_where": "/collections/embedded_posts/points/delete",
    "scroll": "/collections/embedded_posts/points/scroll",
    "search": "/collections/embedded_posts/points/query",
    "count": "/collections/embedded_posts/points/count",
}
CALLS: dict[str, Callable[[ClientVectorIndex], object]] = {
    "ensure_collection": lambda index: index.ensure_collection("embedded_posts", 3),
    "upsert": lambda index: index.upsert("embedded_posts", [point([1, 0, 0])]),
    "delete_where": lambda index: index.delete_where("embedded_posts", {"author_id": ADA}),
    "scroll": lambda index: list(index.scroll("embedded_posts")),
    "search": lambda index: index.search("embedded_posts", [1, 0, 0], limit=3),
    "count": lambda index: index.count("embedded_posts"),
}


def server_index(url: str) -> ClientVectorIndex:
    return ClientVectorIndex(QdrantClient(url=url, timeout=2, check_compatibility=False))


@pytest.mark.parametrize("call", CALLS)
def test_every_call_to_a_closed_port_raises_feature_store_unavailable(call: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    index = server_index(f"http://127.0.0.1:{port}")
    with pytest.raises(FeatureStoreUnavailableError) as raised:
        CALLS[call](index)
    message = str(raised.value)
    assert f"Qdrant at http://127.0.0.1:{port} did not answer while " in message
    assert "ConnectError" in message and "poe local-infrastructure-up" in message and "QDRANT_URL" in message
    index.close()


@pytest.mark.parametrize("call", POINT_PATHS)
def test_a_server_error_is_an_outage_and_a_refused_request_is_not(call: str) -> None:
    exists = (200, "application/json", '{"result": {"exists": true}, "status": "ok", "time": 0}')
    with LocalServer({"/collections/embedded_posts/exists": exists}) as server:
        index = server_index(server.base_url)
        server[POINT_PATHS[call]] = (503, "application/json", '{"status": {"error": "overloaded"}}')
        with pytest.raises(FeatureStoreUnavailableError, match=r"UnexpectedResponse: .*503"):
            CALLS[call](index)
        server[POINT_PATHS[call]] = (400, "application/json", '{"status": {"error": "bad filter"}}')
        with pytest.raises(UnexpectedResponse, match="400"):
            CALLS[call](index)
        index.close()
