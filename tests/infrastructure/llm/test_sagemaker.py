"""The SageMaker backend on a real sagemaker-runtime client whose calls botocore's Stubber answers."""

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from llm_engineering.domain.exceptions import LLMError
from llm_engineering.domain.generation import ChatMessage, Completion, GenerationConfig
from llm_engineering.infrastructure.llm.chat_api import HttpChatOptions
from llm_engineering.infrastructure.llm.sagemaker import SageMakerChatModel
from tests.support.aws import stubbed_client

ENDPOINT = "twin-endpoint"
CONVERSATION = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")]
# One request at a time: the Stubber answers its queue in call order.
OPTIONS = HttpChatOptions(concurrency=1, prompt_price_per_1k=1.0, completion_price_per_1k=2.0)


class JsonBody:
    """Equal to request bytes holding this JSON document, whatever its key order or spacing."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes | str) and json.loads(other) == self.document

    def __repr__(self) -> str:
        return f"JsonBody({self.document!r})"


def streaming(document: dict[str, Any]) -> StreamingBody:
    data = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(data), len(data))


def expected(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "EndpointName": ENDPOINT,
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": JsonBody(body),
    }


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    with stubbed_client("sagemaker-runtime", monkeypatch) as pair:
        yield pair


def test_invokes_the_messages_api_and_parses_the_answer(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    answer = {
        "object": "chat.completion",
        "model": "tgi",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }
    body = {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 20,
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 5,
    }
    stubber.add_response(
        "invoke_endpoint", {"Body": streaming(answer), "ContentType": "application/json"}, expected(body)
    )
    config = GenerationConfig(max_new_tokens=20, temperature=0.3, top_p=0.9, seed=5)
    completions = SageMakerChatModel(ENDPOINT, client, OPTIONS).generate([CONVERSATION], config)
    assert completions == [
        Completion(text="Hello!", model="tgi", prompt_tokens=12, completion_tokens=3, cost_usd=0.018)
    ]


def test_leaves_out_top_p_of_one_and_unset_seed(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    answer = {"choices": [{"message": {"role": "assistant", "content": "ok"}}]}
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "temperature": 0.0}
    stubber.add_response("invoke_endpoint", {"Body": streaming(answer)}, expected(body))
    config = GenerationConfig(max_new_tokens=8, temperature=0, top_p=1.0)
    [completion] = SageMakerChatModel(ENDPOINT, client, OPTIONS).generate([CONVERSATION[1:]], config)
    # No usage in the answer: nothing counted, nothing charged, and the endpoint names the model.
    assert (completion.text, completion.model, completion.cost_usd) == ("ok", ENDPOINT, 0.0)


def test_model_error_becomes_llm_error(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="Received client error (422) from primary: Input validation error",
        http_status_code=424,
    )
    model = SageMakerChatModel(ENDPOINT, client, OPTIONS)
    with pytest.raises(LLMError, match=r"twin-endpoint.*ModelError.*Input validation error") as raised:
        model.generate([CONVERSATION], GenerationConfig(temperature=0))
    assert "SAGEMAKER_ENDPOINT_NAME" in str(raised.value)


def test_an_answer_that_is_not_json_becomes_llm_error(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    data = b"<html>gateway</html>"
    stubber.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(data), len(data))})
    with pytest.raises(LLMError, match="invalid JSON"):
        SageMakerChatModel(ENDPOINT, client, OPTIONS).generate([CONVERSATION], GenerationConfig())


@pytest.mark.parametrize(
    ("reported", "finish_reason"), [("length", "length"), ("eos_token", "stop"), (None, "stop")]
)
def test_the_finish_reason_is_tgis(
    stubbed: tuple[Any, Stubber], reported: str | None, finish_reason: str
) -> None:
    """TGI's Messages API says "length" when max_tokens cut the answer; "eos_token", "stop_sequence" or
    nothing at all mean that it ended."""
    client, stubber = stubbed
    choice = {"message": {"role": "assistant", "content": "Rivers"}, "finish_reason": reported}
    stubber.add_response("invoke_endpoint", {"Body": streaming({"choices": [choice]})})
    [completion] = SageMakerChatModel(ENDPOINT, client, OPTIONS).generate([CONVERSATION], GenerationConfig())
    assert completion.finish_reason == finish_reason
