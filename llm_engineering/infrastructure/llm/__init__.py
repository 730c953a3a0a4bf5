"""Chat model backends: a local transformers model, OpenAI-compatible servers and SageMaker endpoints."""

from pathlib import Path

from llm_engineering.application.ports import ChatModel
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.infrastructure.llm.chat_api import HttpChatOptions
from llm_engineering.infrastructure.settings import Settings

DEFAULT_MODEL_FOLDER = "smollm2-135m-instruct"
# USD per 1,000 prompt and completion tokens at OpenAI's list prices (July 2024); other models cost 0.
KNOWN_PRICES_PER_1K = {"gpt-4o-mini": (0.00015, 0.0006)}


def default_model_dir(settings: Settings) -> Path:
    """Where the bundled SmolLM2-135M-Instruct is converted to (once) and loaded from."""
    return settings.data_dir / "models" / DEFAULT_MODEL_FOLDER


def build_chat_model(settings: Settings) -> ChatModel:
    """The chat model `settings.llm_backend` names, configured from the environment."""
    match settings.llm_backend:
        case "local":
            return _local(settings)
        case "openai":
            return _openai(settings)
        case "sagemaker":
            return _sagemaker(settings)
    raise TwinError(f"Unknown LLM_BACKEND {settings.llm_backend!r}; use local, openai or sagemaker.")


def local_chat_model(settings: Settings, model_dir: Path, label: str | None = None) -> ChatModel:
    """The model saved in `model_dir`, run in-process by LLM_ENGINE: the one constructor of local models
    (the backend's, the served twin's, and every model an evaluation loads)."""
    from llm_engineering.infrastructure.llm.local.model import TransformersChatModel, is_model_dir

    if not is_model_dir(model_dir):
        raise TwinError(
            f"{model_dir} holds no saved model (config.json, tokenizer, *.safetensors); point the setting "
            "or registry version that named it at a trained model folder."
        )
    if settings.llm_engine == "transformers":
        return TransformersChatModel(model_dir, threads=settings.llm_threads, label=label)
    from llm_engineering.infrastructure.llm.local.ctranslate import CTranslate2ChatModel

    return CTranslate2ChatModel(model_dir, threads=settings.llm_threads, label=label)


def _local(settings: Settings) -> ChatModel:
    from llm_engineering.infrastructure.llm.local.model import ensure_local_model, is_model_dir

    model_dir = settings.llm_model_dir
    if model_dir is None:
        return local_chat_model(settings, ensure_local_model(default_model_dir(settings)))
    if not is_model_dir(model_dir):
        raise TwinError(
            f"LLM_MODEL_DIR={model_dir} holds no saved model (config.json, tokenizer, *.safetensors); "
            "point it at one or unset it to use the bundled SmolLM2."
        )
    return local_chat_model(settings, model_dir)


def _openai(settings: Settings) -> ChatModel:
    from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleChatModel

    if not settings.openai_base_url:
        raise TwinError(
            "LLM_BACKEND=openai needs OPENAI_BASE_URL (https://api.openai.com/v1, or your vLLM, TGI, "
            "Ollama or llama.cpp server's /v1 URL), plus OPENAI_API_KEY where the server wants one."
        )
    prompt_price, completion_price = KNOWN_PRICES_PER_1K.get(settings.openai_model_id, (0.0, 0.0))
    options = HttpChatOptions(prompt_price_per_1k=prompt_price, completion_price_per_1k=completion_price)
    return OpenAICompatibleChatModel(
        settings.openai_base_url, settings.openai_model_id, settings.openai_api_key, options
    )


def _sagemaker(settings: Settings) -> ChatModel:
    from botocore.config import Config

    from llm_engineering.infrastructure.aws.clients import aws_client
    from llm_engineering.infrastructure.llm.sagemaker import SageMakerChatModel

    if not settings.sagemaker_endpoint_name:
        raise TwinError(
            "LLM_BACKEND=sagemaker needs SAGEMAKER_ENDPOINT_NAME and AWS_REGION, plus AWS_ACCESS_KEY and "
            "AWS_SECRET_KEY unless the default AWS credential chain applies."
        )
    # TGI's response_format wants a JSON schema, not OpenAI's bare json_object: prompts ask for JSON instead.
    options = HttpChatOptions(json_mode_supported=False)
    retries = {"total_max_attempts": options.max_retries + 1, "mode": "adaptive"}
    config = Config(read_timeout=options.timeout_s, retries=retries)
    client = aws_client(settings, "sagemaker-runtime", config)
    return SageMakerChatModel(settings.sagemaker_endpoint_name, client, options)
