"""Any server that speaks OpenAI's chat-completions API: OpenAI, vLLM, TGI, Ollama, llama.cpp."""

import json
import math
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any, Literal

import httpx
from loguru import logger
from pydantic import SecretStr

from llm_engineering.domain.exceptions import LLMError
from llm_engineering.domain.generation import Completion, Conversation, GenerationConfig
from llm_engineering.infrastructure.llm.chat_api import (
    HttpChatOptions,
    chat_body,
    map_in_order,
    parse_chat_completion,
    parse_finish_reason,
)

__all__ = ["HttpChatOptions", "OpenAICompatibleChatModel"]

TOP_LOGPROBS = 20  # the most OpenAI's API returns per position
READINESS_TIMEOUT_S = 3.0  # a readiness probe must answer fast, whatever the answers' timeout is
HINT = "check OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL_ID"
ADVICE = {  # what to check when the server refuses a request with this status
    401: "check OPENAI_API_KEY",
    403: "check OPENAI_API_KEY and its permissions",
    404: "check OPENAI_BASE_URL (it usually ends in /v1) and OPENAI_MODEL_ID",
}


class _Retryable(Exception):
    """A failure worth another try: a timeout, a lost connection, 429 or 5xx."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class OpenAICompatibleChatModel:
    """Sends each conversation as one chat-completions request, several at once, retrying busy servers."""

    def __init__(
        self, base_url: str, model: str, api_key: SecretStr | None, options: HttpChatOptions
    ) -> None:
        self.model_id = model
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._options = options
        self._warned_no_usage = False

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[Completion]:
        """One completion per conversation, in order; raises LLMError when any one finally fails."""
        with self._client() as client:
            return map_in_order(
                lambda conversation: self._complete(client, conversation, config),
                conversations,
                self._options.concurrency,
            )

    def check_available(self) -> None:
        """Raise LLMError unless the server answers `GET /models` with 2xx within 3 s (a readiness probe:
        the cheapest request every OpenAI-compatible server serves, and it costs no tokens)."""
        try:
            with self._client() as client:
                response = client.get("/models", timeout=READINESS_TIMEOUT_S)
        except httpx.TimeoutException as error:
            raise LLMError(
                f"{self._server} did not answer GET /models within {READINESS_TIMEOUT_S:g} s; "
                f"check that it is up and not overloaded ({HINT})."
            ) from error
        except httpx.HTTPError as error:
            raise LLMError(
                f"{self._server} could not be reached ({type(error).__name__}: {error}); start it or {HINT}."
            ) from error
        if not response.is_success:
            raise LLMError(
                f"{self._server} answered GET /models with {response.status_code}: {response.text[:200]!r}; "
                f"{ADVICE.get(response.status_code, HINT)}."
            )

    def stream(
        self, conversation: Conversation, config: GenerationConfig
    ) -> Generator[str, None, Completion]:
        """The answer's text pieces as the server sends them (`stream: true`, Server-Sent Events), then the
        Completion with the token counts of the server's closing usage chunk (`stream_options.include_usage`).
        Without usage (the server ignores the option, or `stream_usage_supported` is off) the content chunks
        are counted as completion tokens and the prompt as 0 tokens, with a warning once per model. The finish
        reason is the last one a chunk reported ("length" when max_tokens cut the answer).

        Not retried: pieces already handed out cannot be taken back. Raises LLMError on a refusal, a
        broken stream or an error event.
        """
        body = {"model": self.model_id, **chat_body(conversation, config, self._options.json_mode_supported)}
        body["stream"] = True
        if self._options.stream_usage_supported:
            body["stream_options"] = {"include_usage": True}
        try:
            with (
                self._client() as client,
                client.stream("POST", "/chat/completions", json=body) as response,
            ):
                if response.status_code >= 400:
                    response.read()
                    raise LLMError(self._client_error(response))
                return (yield from self._pieces(response.iter_lines()))
        except httpx.HTTPError as error:
            raise LLMError(f"{self._server} broke off the stream ({error!r}); {HINT}.") from error

    def _pieces(self, lines: Iterator[str]) -> Generator[str, None, Completion]:
        pieces: list[str] = []
        usage: dict[str, Any] | None = None
        reported: str | None = None  # the last chunk with a choice carries the finish reason
        for line in lines:
            if not line.startswith("data:"):
                continue  # blank separators, comments and event names
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                return self._streamed(pieces, usage, parse_finish_reason(reported))
            chunk = json.loads(data)
            if "error" in chunk:
                raise LLMError(f"{self._server} sent an error in the stream: {str(chunk['error'])[:200]}.")
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                reported = choice.get("finish_reason") or reported
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    pieces.append(piece)
                    yield piece
        raise LLMError(f"{self._server} ended the stream without [DONE]; the answer may be cut short.")

    def _streamed(
        self, pieces: list[str], usage: dict[str, Any] | None, reason: Literal["stop", "length"]
    ) -> Completion:
        if usage is None:
            if not self._warned_no_usage:
                logger.warning("{} sends no usage in its streams; counting chunks as tokens", self._server)
                self._warned_no_usage = True
            usage = {"prompt_tokens": 0, "completion_tokens": len(pieces)}
        return Completion(
            text="".join(pieces),
            model=self.model_id,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=reason,
        )

    def choice_probabilities(
        self, conversations: Sequence[Conversation], choices: Sequence[str]
    ) -> list[dict[str, float]]:
        """Per conversation, one-token completions with `top_logprobs`; the choices' probabilities among the
        server's most likely first tokens, renormalised. Raises LLMError when the server returns no
        log-probabilities or none of its likely tokens is a choice."""
        with self._client() as client:
            return map_in_order(
                lambda conversation: self._choose(client, conversation, choices),
                conversations,
                self._options.concurrency,
            )

    def _choose(
        self, client: httpx.Client, conversation: Conversation, choices: Sequence[str]
    ) -> dict[str, float]:
        config = GenerationConfig(max_new_tokens=1, temperature=0.0)
        body = {
            "model": self.model_id,
            **chat_body(conversation, config, json_mode_supported=False),
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        answer = self._post_with_retries(client, body)
        try:
            candidates = answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            found = [(str(c["token"]).strip(), float(c["logprob"])) for c in candidates]
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise LLMError(
                f"{self._server} returned no top_logprobs ({str(answer)[:200]}); "
                "use a server that supports logprobs, or set judge_mode: generate."
            ) from error
        mass = {choice: sum(math.exp(lp) for token, lp in found if token == choice) for choice in choices}
        total = sum(mass.values())
        if total == 0:
            raise LLMError(
                f"None of {list(choices)} is among the {len(found)} likeliest first tokens"
                f" of {self.model_id}."
            )
        return {choice: value / total for choice, value in mass.items()}

    def _complete(
        self, client: httpx.Client, conversation: Conversation, config: GenerationConfig
    ) -> Completion:
        body = {"model": self.model_id, **chat_body(conversation, config, self._options.json_mode_supported)}
        answer = self._post_with_retries(client, body)
        return parse_chat_completion(answer, self.model_id, self._options, self._server)

    def _client(self) -> httpx.Client:
        """A client for this server: its base URL, the API key, the timeout, and at most `concurrency`
        connections (the most requests `map_in_order` has in flight)."""
        return httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self._options.timeout_s,
            limits=httpx.Limits(max_connections=self._options.concurrency),
        )

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key.get_secret_value()}"} if self._api_key else {}

    @property
    def _server(self) -> str:
        return f"The chat server at {self.base_url}"

    def _post_with_retries(self, client: httpx.Client, body: dict[str, Any]) -> Any:
        attempts = self._options.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._post(client, body)
            except _Retryable as failure:
                if attempt + 1 == attempts:
                    raise LLMError(
                        f"{self._server} failed {attempts} times for model {self.model_id!r}, "
                        f"last: {failure}; check that the server is up and not overloaded ({HINT})."
                    ) from failure
                delay = failure.retry_after_s
                if delay is None:
                    delay = self._options.backoff_s * 2**attempt
                logger.warning("{}: {}; retry {} in {:.2f} s", self._server, failure, attempt + 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> Any:
        try:
            response = client.post("/chat/completions", json=body)
        except httpx.TimeoutException as error:
            raise _Retryable(f"no answer within {self._options.timeout_s} s") from error
        except httpx.TransportError as error:
            raise _Retryable(f"could not be reached ({error!r})") from error
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"answered {status}", retry_after(response))
        if status >= 400:
            raise LLMError(self._client_error(response))
        try:
            return response.json()
        except ValueError as error:
            raise LLMError(f"{self._server} answered with invalid JSON: {response.text[:200]!r}.") from error

    def _client_error(self, response: httpx.Response) -> str:
        status = response.status_code
        return (
            f"{self._server} refused the request for model {self.model_id!r} with {status}: "
            f"{response.text[:300]}; {ADVICE.get(status, HINT)}."
        )


def retry_after(response: httpx.Response) -> float | None:
    """The delay a Retry-After header in seconds asks for; HTTP dates fall back to our own backoff."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
