"""The SageMaker backend against moto's sagemaker-runtime on 127.0.0.1, which answers invoke_endpoint with
results queued through moto's own API; botocore's Stubber only for the error moto cannot answer with."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from llm_engineering.domain.exceptions import LLMError
from llm_engineering.domain.generation import ChatMessage, Completion, GenerationConfig
from llm_engineering.infrastructure.llm.chat_api import HttpChatOptions
from llm_engineering.infrastructure.llm.sagemaker import SageMakerChatModel
from tests.support.aws import moto_account, stubbed_client
from tests.support.aws_standin import REGION, free_port, moto_server

ENDPOINT = "twin-endpoint"
CONVERSATION = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")]
# One request at a time: moto hands out its queued answers in the order the requests arrive.
OPTIONS = HttpChatOptions(concurrency=1, prompt_price_per_1k=1.0, completion_price_per_1k=2.0)


@dataclass
class Runtime:
    """A sagemaker-runtime client on moto, the account it works in, and the requests it sent."""

    endpoint: str
    account: str
    client: Any
    sent: list[Any] = field(default_factory=list)

    def record(self, request: Any, **_: Any) -> None:
        """botocore's before-send hook: keep the request and let it go on to moto."""
        self.sent.append(request)

    def answer_with(self, *bodies: str) -> None:
        """Queue the bodies moto answers the next invocations with, in order."""
        results = [{"Body": body, "ContentType": "application/json"} for body in bodies]
        queued = {"account_id": self.account, "region": REGION, "results": results}
        httpx.post(
            f"{self.endpoint}/moto-api/static/sagemaker/endpoint-results", json=queued
        ).raise_for_status()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def runtime(moto_endpoint: str) -> Iterator[Runtime]:
    """A fresh moto account each test: moto answers a request it has seen before from its cache."""
    with moto_account(moto_endpoint) as account:
        runtime = Runtime(moto_endpoint, account, boto3.client("sagemaker-runtime", region_name=REGION))
        # moto keeps no record of an invocation that its API returns, so the request is read on its way out.
        runtime.client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", runtime.record)
        yield runtime


def test_invokes_the_messages_api_and_parses_the_answer(runtime: Runtime) -> None:
    answer = {
        "object": "chat.completion",
        "model": "tgi",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }
    runtime.answer_with(json.dumps(answer))
    config = GenerationConfig(max_new_tokens=20, temperature=0.3, top_p=0.9, seed=5)

    completions = SageMakerChatModel(ENDPOINT, runtime.client, OPTIONS).generate([CONVERSATION], config)

    assert completions == [
        Completion(text="Hello!", model="tgi", prompt_tokens=12, completion_tokens=3, cost_usd=0.018)
    ]
    (request,) = runtime.sent
    assert request.url == f"{runtime.endpoint}/endpoints/{ENDPOINT}/invocations"
    assert (request.headers["Content-Type"], request.headers["Accept"]) == (
        b"application/json",
        b"application/json",
    )
    assert json.loads(request.body) == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 20,
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 5,
    }


def test_leaves_out_top_p_of_one_and_unset_seed(runtime: Runtime) -> None:
    runtime.answer_with(json.dumps({"choices": [{"message": {"role": "assistant", "content": "ok"}}]}))
    config = GenerationConfig(max_new_tokens=8, temperature=0, top_p=1.0)

    [completion] = SageMakerChatModel(ENDPOINT, runtime.client, OPTIONS).generate([CONVERSATION[1:]], config)

    # No usage in the answer: nothing counted, nothing charged, and the endpoint names the model.
    assert (completion.text, completion.model, completion.cost_usd) == ("ok", ENDPOINT, 0.0)
    (request,) = runtime.sent
    expected = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "temperature": 0.0}
    assert json.loads(request.body) == expected


def test_answers_come_back_in_the_order_of_the_conversations(runtime: Runtime) -> None:
    runtime.answer_with(
        *(json.dumps({"choices": [{"message": {"content": text}}]}) for text in ("one", "two"))
    )
    conversations = [[ChatMessage(role="user", content=text)] for text in ("first", "second")]

    completions = SageMakerChatModel(ENDPOINT, runtime.client, OPTIONS).generate(
        conversations, GenerationConfig()
    )

    assert [completion.text for completion in completions] == ["one", "two"]
    assert [json.loads(request.body)["messages"][0]["content"] for request in runtime.sent] == [
        "first",
        "second",
    ]


def test_an_answer_that_is_not_json_becomes_llm_error(runtime: Runtime) -> None:
    runtime.answer_with("<html>gateway</html>")
    with pytest.raises(LLMError, match=r"twin-endpoint.*invalid JSON: b'<html>gateway</html>'"):
        SageMakerChatModel(ENDPOINT, runtime.client, OPTIONS).generate([CONVERSATION], GenerationConfig())


@pytest.mark.parametrize(
    ("reported", "finish_reason"), [("length", "length"), ("eos_token", "stop"), (None, "stop")]
)
def test_the_finish_reason_is_tgis(runtime: Runtime, reported: str | None, finish_reason: str) -> None:
    """TGI's Messages API says "length" when max_tokens cut the answer; "eos_token", "stop_sequence" or
    nothing at all mean that it ended."""
    choice = {"message": {"role": "assistant", "content": "Rivers"}, "finish_reason": reported}
    runtime.answer_with(json.dumps({"choices": [choice]}))
    [completion] = SageMakerChatModel(ENDPOINT, runtime.client, OPTIONS).generate(
        [CONVERSATION], GenerationConfig()
    )
    assert completion.finish_reason == finish_reason


def test_an_unreachable_endpoint_becomes_llm_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=2)
    client = boto3.client("sagemaker-runtime", region_name=REGION, endpoint_url=nowhere, config=config)
    with pytest.raises(
        LLMError, match=r"twin-endpoint' could not be called .*AWS credentials and AWS_REGION"
    ):
        SageMakerChatModel(ENDPOINT, client, OPTIONS).generate([CONVERSATION], GenerationConfig())


def test_model_error_becomes_llm_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stubber: moto's invoke_endpoint answers every request with a queued or canned result, never an error.
    with stubbed_client("sagemaker-runtime", monkeypatch) as (client, stubber):
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
