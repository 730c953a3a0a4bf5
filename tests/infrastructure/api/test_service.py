"""The service's parts as the composition root builds them: one batcher before the served model, through
which query expansion, whole answers and streams all go, closed when the service stops."""

from pathlib import Path
from uuid import UUID

import httpx
import pytest

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.retrieval import RetrievalConfig
from llm_engineering.application.serving import ServedFrom, ServedModel
from llm_engineering.domain.documents import UserDocument
from llm_engineering.domain.generation import ChatMessage, GenerationConfig
from llm_engineering.infrastructure import container
from llm_engineering.infrastructure.api.batching import DynamicBatcher, ServiceBusyError
from llm_engineering.infrastructure.container import service as composition
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.warehouse.connection import open_warehouse
from tests.support import rag
from tests.support.fakes import HashingEmbedder, InMemoryVectorIndex
from tests.support.service import StreamingScriptedModel, cite_first_source, running

QUESTION = "How does Iris Calder chunk documents?"


def test_query_expansion_and_answers_wait_in_the_one_batcher_the_service_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    stores = open_warehouse(settings)
    iris = UUID(rag.AUTHORS["Iris Calder"])  # the author of the feature store's passages
    stores.documents.upsert_user(UserDocument(id=iris, first_name="Iris", last_name="Calder"))
    index, embedder = InMemoryVectorIndex(), HashingEmbedder()
    rag.fill(index, embedder)
    model = StreamingScriptedModel(cite_first_source)
    for name, value in {
        "get_settings": settings,
        "get_warehouse": stores.documents,
        "get_feedback_store": stores.feedback,
        "get_vector_index": index,
        "get_embedder": embedder,
    }.items():
        monkeypatch.setattr(container, name, lambda value=value: value)
    monkeypatch.setattr(composition, "served_model", lambda: ServedModel(source=ServedFrom.BACKEND))
    monkeypatch.setattr(composition, "serving_chat_model", lambda served: model)

    parts = composition.build_parts(AnswerConfig(retrieval=RetrievalConfig(queries=2, top_k=2)))
    batcher = parts.model
    assert isinstance(batcher, DynamicBatcher) and batcher.model is model
    assert (parts.max_batch, parts.max_queue) == (batcher.max_batch, batcher.max_queue)
    with running(lambda: parts) as url:
        assert httpx.post(f"{url}/rag", json={"query": QUESTION}, timeout=10).status_code == 200
        assert "event: done" in httpx.post(f"{url}/rag/stream", json={"query": QUESTION}, timeout=10).text
    answers = [asked for asked in model.asked if "[1] https://example.org" in asked]
    assert len(model.asked) == 4 and len(answers) == 2  # an expansion before each answer
    assert sum(batcher.batch_sizes) == 4 and batcher.waiting == 0  # all four went through the batcher
    with pytest.raises(ServiceBusyError, match="shutting down"):  # the service closed this very batcher
        batcher.generate([[ChatMessage(role="user", content="late")]], GenerationConfig())
