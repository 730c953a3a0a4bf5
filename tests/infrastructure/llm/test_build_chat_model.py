"""Choosing and configuring the chat model backend from the settings."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import ChatMessage, GenerationConfig
from llm_engineering.infrastructure.llm import build_chat_model
from llm_engineering.infrastructure.llm.local.ctranslate import CTranslate2ChatModel
from llm_engineering.infrastructure.llm.local.model import TransformersChatModel
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleChatModel
from llm_engineering.infrastructure.llm.sagemaker import SageMakerChatModel
from llm_engineering.infrastructure.settings import Settings
from tests.support.chat_server import ChatServer

VARIABLES = ["LLM_BACKEND", "LLM_ENGINE", "LLM_MODEL_DIR", "LLM_THREADS", "OPENAI_BASE_URL", "OPENAI_API_KEY"]
VARIABLES += ["OPENAI_MODEL_ID", "SAGEMAKER_ENDPOINT_NAME", "AWS_REGION", "AWS_ACCESS_KEY", "AWS_SECRET_KEY"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def settings(**values: object) -> Settings:
    """Settings from `values` alone: no .env file and none of the variables above."""
    return Settings.model_validate({"_env_file": None, **values})


def test_openai_backend_talks_to_the_configured_server() -> None:
    with ChatServer() as server:
        model = build_chat_model(
            settings(llm_backend="openai", openai_base_url=server.base_url, openai_api_key=SecretStr("k"))
        )
        [completion] = model.generate([[ChatMessage(role="user", content="ping")]], GenerationConfig())
    assert isinstance(model, OpenAICompatibleChatModel)
    assert completion.text == "echo: ping"
    assert server.bodies[0]["model"] == "gpt-4o-mini"
    assert completion.cost_usd > 0  # the default model is priced


@pytest.mark.parametrize(
    ("backend", "variable"), [("openai", "OPENAI_BASE_URL"), ("sagemaker", "SAGEMAKER_ENDPOINT_NAME")]
)
def test_missing_settings_name_the_variables_to_set(backend: str, variable: str) -> None:
    with pytest.raises(TwinError, match=variable):
        build_chat_model(settings(llm_backend=backend))


def test_sagemaker_backend_builds_a_client_for_the_region() -> None:
    model = build_chat_model(
        settings(
            llm_backend="sagemaker",
            sagemaker_endpoint_name="twin",
            aws_region="eu-west-1",
            aws_access_key=SecretStr("id"),
            aws_secret_key=SecretStr("secret"),
        )
    )
    assert isinstance(model, SageMakerChatModel)
    assert model.model_id == "twin"
    assert model._client.meta.region_name == "eu-west-1"


def test_local_backend_refuses_a_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(TwinError, match="LLM_MODEL_DIR"):
        build_chat_model(settings(llm_model_dir=tmp_path))


@pytest.mark.parametrize(
    ("engine", "kind"), [("ctranslate2", CTranslate2ChatModel), ("transformers", TransformersChatModel)]
)
def test_local_backend_runs_a_given_model_folder_on_the_chosen_engine_without_loading_it(
    tmp_path: Path, engine: str, kind: type
) -> None:
    for name in ("config.json", "tokenizer_config.json", "model.safetensors"):
        (tmp_path / name).write_text("{}")
    model = build_chat_model(settings(llm_model_dir=tmp_path, llm_threads=1, llm_engine=engine))
    assert isinstance(model, kind)
    assert model.model_dir == tmp_path
    assert not list(tmp_path.parent.glob("*.ct2-*"))  # nothing converted before the first answer


def test_the_default_engine_is_ctranslate2(tmp_path: Path) -> None:
    for name in ("config.json", "tokenizer_config.json", "model.safetensors"):
        (tmp_path / name).write_text("{}")
    assert isinstance(build_chat_model(settings(llm_model_dir=tmp_path)), CTranslate2ChatModel)
