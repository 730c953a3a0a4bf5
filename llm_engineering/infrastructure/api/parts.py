"""Builds the service's parts from the settings: stores, models, reranker, monitoring (the composition root
of the inference side)."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.ports import ChatModel, Reranker, TraceSink
from llm_engineering.application.retrieval import HybridReranker, Retriever
from llm_engineering.domain.exceptions import CollectionNotFoundError, TwinError
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS
from llm_engineering.infrastructure import container
from llm_engineering.infrastructure.api.service import TwinParts
from llm_engineering.infrastructure.settings import Settings
from llm_engineering.infrastructure.thread_confined import ThreadConfiner

T = TypeVar("T")


def build_reranker(settings: Settings) -> Reranker:
    """The cross-encoder when RERANKER_MODEL_ID names one; otherwise, explicitly, hybrid BM25 + dense RRF."""
    if settings.reranker_model_id:
        from llm_engineering.infrastructure.reranking import CrossEncoderReranker

        return CrossEncoderReranker(settings.reranker_model_id, settings.embedding_device)
    return HybridReranker()


def build_model(settings: Settings, model_dir: Path | None) -> ChatModel:
    """The twin's model: a local folder when given, else the LLM_BACKEND model."""
    if model_dir is None:
        return container.get_chat_model()
    from llm_engineering.infrastructure.llm.local import TransformersChatModel

    return TransformersChatModel(model_dir, threads=settings.llm_threads)


def build_parts(config: AnswerConfig, model_dir: Path | None, model_version: str | None) -> TwinParts:
    """Everything the service needs, built once; the model and embedder load now, not on the first request."""
    from llm_engineering.infrastructure.monitoring import WarehouseMonitoring
    from llm_engineering.infrastructure.warehouse import MongoWarehouse, connect_database

    settings = container.get_settings()
    # The embedded warehouse's SQLite connections belong to the thread that opened them: there, every
    # warehouse call runs on one thread of its own. A MongoDB server's client is shared by all threads.
    confiner = ThreadConfiner("warehouse") if settings.uses_embedded_warehouse else None
    database = confiner.run(lambda: connect_database(settings)) if confiner else container.get_database()

    def confined(factory: Callable[[], T]) -> T:
        return confiner.build(factory) if confiner else factory()

    warehouse = confined(lambda: MongoWarehouse(database))
    monitoring = confined(lambda: WarehouseMonitoring(database))
    index, embedder = container.get_vector_index(), container.get_embedder()
    model = build_model(settings, model_dir)

    def authors() -> Mapping[str, str]:
        return {str(user.id): user.full_name for user in warehouse.list_users()}

    retriever = Retriever(index, embedder, build_reranker(settings), model, authors, config.retrieval)
    sinks: list[TraceSink] = []
    if settings.opik_url:
        from llm_engineering.infrastructure.monitoring_opik import OpikTraceSink

        sinks.append(OpikTraceSink.from_settings(settings))
    embedder.embed(["warm up"])  # load the embedding model now rather than on the first question

    def warehouse_answers() -> None:
        warehouse.list_users()

    def feature_store_answers() -> None:
        for name in EMBEDDED_COLLECTIONS.values():
            try:
                index.count(name)
            except CollectionNotFoundError:
                continue  # an author without posts has no embedded_posts

    if not authors():
        raise TwinError(
            "The warehouse holds no author yet; run `poe run-quickstart` or `poe run-digital-data-etl`."
        )
    return TwinParts(
        retriever=retriever,
        model=model,
        monitoring=monitoring,
        config=config,
        model_version=model_version,
        extra_sinks=sinks,
        ready_checks={"warehouse": warehouse_answers, "feature_store": feature_store_answers},
    )
