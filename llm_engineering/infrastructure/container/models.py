"""The models side of the composition root: the model registry, which model serves, an evaluation's setup."""

from pathlib import Path

from llm_engineering.application.evaluating import EvaluationSetup
from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.application.ports import ChatModel, ModelRegistry
from llm_engineering.application.serving import ServedModel, choose_served_model
from llm_engineering.infrastructure.container import (
    get_chat_model,
    get_embedder,
    get_settings,
    get_vector_index,
)


def get_model_registry() -> ModelRegistry:
    """The registry of the active ZenML store (it follows `zenml` stack and store switches); versions
    trained on SageMaker are fetched from S3 into the data folder when their model is asked for."""
    from llm_engineering.infrastructure.model_registry import ZenMLModelRegistry

    return ZenMLModelRegistry(fetch=fetched_from_s3)


def keep_trained_model(model_dir: Path, run_name: str, artifact_store: str) -> str | None:
    """Where a trained model is kept beside remote artifacts, the counterpart of `fetched_from_s3`: with an S3
    artifact store, the folder is uploaded to `ARTIFACT_STORE/models/twin/RUN` and that address returned;
    with a local one, None (the folder stays where training wrote it)."""
    from llm_engineering.infrastructure.aws.clients import aws_client
    from llm_engineering.infrastructure.aws.model_store import S3_SCHEME, upload_folder

    if not artifact_store.startswith(S3_SCHEME):
        return None
    uri = f"{artifact_store.rstrip('/')}/models/twin/{run_name}"
    upload_folder(aws_client(get_settings(), "s3"), model_dir, uri)
    return uri


def fetched_from_s3(uri: str) -> Path:
    """The model folder uploaded at `uri`, in DATA_DIR/models/twin/RUN (the upload's last part names the run,
    unique where the folder's own name, `merged`, is not); downloaded the first time it is asked for."""
    from loguru import logger

    from llm_engineering.infrastructure.aws.clients import aws_client
    from llm_engineering.infrastructure.aws.model_store import download_folder

    settings = get_settings()
    folder = settings.data_dir.resolve() / "models" / "twin" / uri.rstrip("/").rsplit("/", 1)[-1]
    if not folder.is_dir():
        logger.info(f"Fetching the model at {uri} into {folder}")
        download_folder(aws_client(settings, "s3"), uri, folder)
    return folder


def served_model(registry: ModelRegistry | None = None) -> ServedModel:
    """Which model answers users now, by the one serving policy (SERVICE_MODEL_DIR, production, fallback)."""
    settings = get_settings()
    return choose_served_model(
        registry or get_model_registry(),
        settings.service_model_dir,
        allow_backend=settings.serving_fallback == "backend",
    )


def serving_chat_model(served: ServedModel) -> ChatModel:
    """The chat model of a serving choice: its folder run locally, or the LLM_BACKEND model."""
    from llm_engineering.infrastructure.llm import local_chat_model

    if served.model_dir is None:
        return get_chat_model()
    return local_chat_model(get_settings(), served.model_dir)


class LocalModelLoader:
    """A `ModelLoader` of local model folders under the settings' thread count."""

    def load(self, model_dir: Path, label: str) -> ChatModel:
        from llm_engineering.infrastructure.llm import local_chat_model

        return local_chat_model(get_settings(), model_dir, label)

    def base(self, label: str) -> ChatModel:
        from llm_engineering.infrastructure.llm import default_model_dir
        from llm_engineering.infrastructure.llm.local.model import ensure_local_model

        return self.load(ensure_local_model(default_model_dir(get_settings())), label)


def evaluation_setup(config: EvaluationConfig) -> EvaluationSetup:
    """Everything an evaluation run reaches: the registry, the served model, the judge, metrics, features,
    the service's own retriever and answer settings, the style verifier and the grounding checker."""
    from llm_engineering.application.grounding import EmbeddingSupport, JudgeSupport
    from llm_engineering.infrastructure.container.service import build_retriever, read_answer_config
    from llm_engineering.infrastructure.style_verifier import CharNgramVerifier
    from llm_engineering.infrastructure.text_overlap import reference_metrics

    registry = get_model_registry()
    answer = read_answer_config(Path(config.service_config))
    judge = get_chat_model()
    return EvaluationSetup(
        registry=registry,
        loader=LocalModelLoader(),
        judge=judge,
        served=served_model(registry),
        metrics=reference_metrics(config.reference_metrics),
        index=get_vector_index(),
        retriever=lambda expander: build_retriever(answer.retrieval, expander),
        answer=answer,
        verifier=CharNgramVerifier(),
        support=JudgeSupport(judge)
        if config.grounding_checker == "judge"
        else EmbeddingSupport(get_embedder()),
    )
