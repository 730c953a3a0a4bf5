"""The inference side of the composition root: the service's parts, built once when the service starts."""

from collections.abc import Mapping

from llm_engineering.application.answering import AnswerConfig
from llm_engineering.application.ports import Reranker, TraceSink
from llm_engineering.application.retrieval import HybridReranker, Retriever
from llm_engineering.domain.exceptions import CollectionNotFoundError, TwinError
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS
from llm_engineering.infrastructure import container
from llm_engineering.infrastructure.api.service import TwinParts
from llm_engineering.infrastructure.container.models import served_model, serving_chat_model
from llm_engineering.infrastructure.settings import Settings


def build_reranker(settings: Settings) -> Reranker:
    """The cross-encoder when RERANKER_MODEL_ID names one; otherwise, explicitly, hybrid BM25 + dense RRF."""
    if settings.reranker_model_id:
        from llm_engineering.infrastructure.reranking import CrossEncoderReranker

        return CrossEncoderReranker(settings.reranker_model_id, settings.embedding_device)
    return HybridReranker()


def trace_sinks(settings: Settings) -> list[TraceSink]:
    """Where traces go besides the warehouse: Opik when OPIK_URL is set."""
    if not settings.opik_url:
        return []
    from llm_engineering.infrastructure.monitoring.opik import OpikTraceSink

    return [OpikTraceSink.from_settings(settings)]


def build_parts(config: AnswerConfig) -> TwinParts:
    """Everything the service needs, built once; the model and embedder load now, not on the first request.
    The model is the serving policy's choice (`container.models.served_model`)."""
    settings = container.get_settings()
    warehouse, index, embedder = (
        container.get_warehouse(),
        container.get_vector_index(),
        container.get_embedder(),
    )
    served = served_model()
    model = serving_chat_model(served)

    def authors() -> Mapping[str, str]:
        return {str(user.id): user.full_name for user in warehouse.list_users()}

    retriever = Retriever(index, embedder, build_reranker(settings), model, authors, config.retrieval)
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
        monitoring=container.get_feedback_store(),
        config=config,
        model_version=str(served.version.number) if served.version else None,
        extra_sinks=trace_sinks(settings),
        ready_checks={"warehouse": warehouse_answers, "feature_store": feature_store_answers},
    )
