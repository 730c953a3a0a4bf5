"""A SageMaker endpoint running Hugging Face TGI, called through its Messages API."""

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from llm_engineering.domain.exceptions import LLMError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig
from llm_engineering.infrastructure.llm.chat_api import (
    HttpChatOptions,
    chat_body,
    map_in_order,
    parse_chat_completion,
)


class SageMakerChatModel:
    """Invokes a TGI endpoint once per conversation, several at once; botocore does the retries."""

    def __init__(self, endpoint_name: str, client: Any, options: HttpChatOptions) -> None:
        """`client` is a boto3 "sagemaker-runtime" client, built with its region, credentials and timeouts."""
        self.model_id = endpoint_name
        self._client = client
        self._options = options

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        """One completion per conversation, in order; raises LLMError when any one fails."""
        return map_in_order(
            lambda conversation: self._complete(conversation, config),
            conversations,
            self._options.concurrency,
        )

    @property
    def _server(self) -> str:
        return f"SageMaker endpoint {self.model_id!r}"

    def _complete(self, conversation: Conversation, config: GenerationConfig) -> Completion:
        body = chat_body(conversation, config, self._options.json_mode_supported)
        answer = self._invoke(json.dumps(body).encode())
        return parse_chat_completion(answer, self.model_id, self._options, self._server)

    def _invoke(self, body: bytes) -> Any:
        try:
            response = self._client.invoke_endpoint(
                EndpointName=self.model_id,
                ContentType="application/json",
                Accept="application/json",
                Body=body,
            )
            payload = response["Body"].read()
        except ClientError as error:
            details = error.response.get("Error", {})
            code, message = details.get("Code", "an error"), details.get("Message", str(error))
            raise LLMError(
                f"{self._server} failed with {code}: {message}; "
                "check SAGEMAKER_ENDPOINT_NAME, AWS_REGION and the endpoint's CloudWatch logs."
            ) from error
        except BotoCoreError as error:
            raise LLMError(
                f"{self._server} could not be called ({error}); check the AWS credentials and AWS_REGION."
            ) from error
        try:
            return json.loads(payload)
        except ValueError as error:
            raise LLMError(f"{self._server} answered with invalid JSON: {payload[:200]!r}.") from error
