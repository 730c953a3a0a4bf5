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


def _local(settings: Settings) -> ChatModel:
    from llm_engineering.infrastructure.llm.local import (
        TransformersChatModel,
        ensure_local_model,
        is_model_dir,
    )

    model_dir = settings.llm_model_dir
    if model_dir is None:
        model_dir = ensure_local_model(default_model_dir(settings))
    elif not is_model_dir(model_dir):
        raise TwinError(
            f"LLM_MODEL_DIR={model_dir} holds no saved model (config.json, tokenizer, *.safetensors); "
            "point it at one or unset it to use the bundled SmolLM2."
        )
    return TransformersChatModel(model_dir, threads=settings.llm_threads)


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
    import boto3
    from botocore.config import Config

    from llm_engineering.infrastructure.llm.sagemaker import SageMakerChatModel

    if not settings.sagemaker_endpoint_name:
        raise TwinError(
            "LLM_BACKEND=sagemaker needs SAGEMAKER_ENDPOINT_NAME and AWS_REGION, plus AWS_ACCESS_KEY and "
            "AWS_SECRET_KEY unless the default AWS credential chain applies."
        )
    # TGI's response_format wants a JSON schema, not OpenAI's bare json_object: prompts ask for JSON instead.
    options = HttpChatOptions(json_mode_supported=False)
    keys = {}
    if settings.aws_access_key and settings.aws_secret_key:
        keys = {
            "aws_access_key_id": settings.aws_access_key.get_secret_value(),
            "aws_secret_access_key": settings.aws_secret_key.get_secret_value(),
        }
    retries = {"total_max_attempts": options.max_retries + 1, "mode": "adaptive"}
    client = boto3.client(
        "sagemaker-runtime",
        region_name=settings.aws_region,
        config=Config(read_timeout=options.timeout_s, retries=retries),
        **keys,
    )
    return SageMakerChatModel(settings.sagemaker_endpoint_name, client, options)
