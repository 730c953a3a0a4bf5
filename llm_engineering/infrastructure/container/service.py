"""The inference side of the composition root: the service's parts, built once when the service starts."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.ports import (
    ChatModel,
    DocumentStore,
    FeedbackStore,
    Reranker,
    TraceSink,
    VectorIndex,
)
from llm_engineering.application.retrieval import HybridReranker, RetrievalConfig, Retriever
from llm_engineering.application.serving import ServedFrom, ServedModel
from llm_engineering.domain.exceptions import CollectionNotFoundError, TwinError
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS
from llm_engineering.infrastructure import container
from llm_engineering.infrastructure.api.batching import DynamicBatcher, QueueConfig
from llm_engineering.infrastructure.api.service import ModelSource, TwinParts, served_version
from llm_engineering.infrastructure.container.models import (
    get_model_registry,
    served_model,
    serving_chat_model,
)
from llm_engineering.infrastructure.monitoring.fan_out import FeedbackFanOut
from llm_engineering.infrastructure.settings import Settings


def build_reranker(settings: Settings) -> Reranker:
    """The cross-encoder when RERANKER_MODEL_ID names one; otherwise, explicitly, hybrid BM25 + dense RRF."""
    if settings.reranker_model_id:
        from llm_engineering.infrastructure.reranking import CrossEncoderReranker

        return CrossEncoderReranker(settings.reranker_model_id, settings.embedding_device)
    return HybridReranker()


def service_monitoring(
    settings: Settings, warehouse: FeedbackStore
) -> tuple[FeedbackFanOut, list[TraceSink]]:
    """The service's monitoring and its extra trace sinks: traces and verdicts go to `warehouse`, and to Opik
    when OPIK_URL is set (each trace through the extra sink, each verdict the warehouse keeps as a score)."""
    if not settings.opik_url:
        return FeedbackFanOut(warehouse, []), []
    from llm_engineering.infrastructure.monitoring.opik import OpikSink

    opik = OpikSink.from_settings(settings)
    return FeedbackFanOut(warehouse, [opik]), [opik]


def _read_service_yaml(path: Path | None) -> dict[str, Any]:
    import yaml

    if path is not None and not path.is_file():
        raise TwinError(f"No service config at {path}; pass a YAML such as configs/inference.yaml.")
    return (yaml.safe_load(path.read_text()) if path else None) or {}


def read_answer_config(path: Path | None) -> AnswerConfig:
    """The service's AnswerConfig from its YAML file (configs/inference.yaml, all but `queue:`)."""
    raw = _read_service_yaml(path)
    raw.pop("queue", None)
    return AnswerConfig.model_validate(raw)


def read_queue_config(path: Path | None) -> QueueConfig:
    """The limits of the service's queue (`queue:` in its YAML file); defaults without one."""
    return QueueConfig.model_validate(_read_service_yaml(path).get("queue") or {})


def build_retriever(
    config: RetrievalConfig, expander: ChatModel, reranker: Reranker | None = None
) -> Retriever:
    """The service's retriever over the configured stores: self-query on the warehouse's authors, query
    expansion by `expander`, and `reranker` (by default the configured one, loaded now)."""
    warehouse = container.get_warehouse()

    def authors() -> Mapping[str, str]:
        return {str(user.id): user.full_name for user in warehouse.list_users()}

    settings = container.get_settings()
    return Retriever(
        container.get_vector_index(),
        container.get_embedder(),
        reranker or build_reranker(settings),
        expander,
        authors,
        config,
    )


def load_served_model() -> tuple[ServedModel, ChatModel]:
    """The serving policy's choice now (`container.models.served_model`) and its chat model, loaded: what
    the service swaps in when the registry's production version changes."""
    served = served_model()
    return served, serving_chat_model(served)


def build_parts(config: AnswerConfig, queue: QueueConfig | None = None) -> TwinParts:
    """Everything the service needs, built once; the model and embedder load now, not on the first request.
    The model is the serving policy's choice, behind the one batcher that query expansion and answers both
    queue in (the service closes it when it stops). The service then follows the registry's production
    version (`load_served_model`), each behind a batcher and retriever of its own."""
    settings = container.get_settings()
    warehouse, index, embedder = (
        container.get_warehouse(),
        container.get_vector_index(),
        container.get_embedder(),
    )
    served = served_model()
    if not warehouse.list_users():  # checked before the batcher starts its threads
        raise TwinError(
            "The warehouse holds no author yet; run `poe run-quickstart` or `poe run-digital-data-etl`."
        )
    embedder.embed(["warm up"])  # load the embedding model now rather than on the first question
    queue = queue or QueueConfig()
    model = serving_chat_model(served)
    batcher = DynamicBatcher(model, queue.max_batch, queue.max_wait_s, queue.max_queue)
    reranker = build_reranker(settings)  # one for every version served: a cross-encoder loads once
    monitoring, extra_sinks = service_monitoring(settings, container.get_feedback_store())

    def retriever(expander: ChatModel) -> Retriever:
        return build_retriever(config.retrieval, expander, reranker)

    return TwinParts(
        retriever=retriever(batcher),
        model=batcher,
        monitoring=monitoring,
        config=config,
        model_version=served_version(served),
        extra_sinks=extra_sinks,
        ready_checks={**store_checks(warehouse, index), **model_checks(model)},
        max_batch=queue.max_batch,
        max_wait_s=queue.max_wait_s,
        max_queue=queue.max_queue,
        max_new_tokens=queue.max_new_tokens,
        source=ModelSource(
            registry=get_model_registry(),
            load=load_served_model,
            retriever=retriever,
            pinned=served.source is ServedFrom.PINNED,
            interval_s=queue.reload_interval_s,
        ),
    )


def store_checks(warehouse: DocumentStore, index: VectorIndex) -> dict[str, Callable[[], None]]:
    """Readiness checks of the warehouse and the feature store."""

    def warehouse_answers() -> None:
        warehouse.list_users()

    def feature_store_answers() -> None:
        for name in EMBEDDED_COLLECTIONS.values():
            try:
                index.count(name)
            except CollectionNotFoundError:
                continue  # an author without posts has no embedded_posts

    return {"warehouse": warehouse_answers, "feature_store": feature_store_answers}


def model_checks(model: ChatModel) -> dict[str, Callable[[], None]]:
    """A readiness check for a model behind a server (an OpenAI-compatible one); a local model loaded
    with the service needs none."""
    check = getattr(model, "check_available", None)
    return {"model_server": check} if callable(check) else {}
