"""The OpenAI-compatible backend against a scripted chat-completions server on localhost."""

import json
import socket
import time
from typing import Any

import pytest
from pydantic import SecretStr

from llm_engineering.domain.exceptions import LLMError
from llm_engineering.domain.generation import ChatMessage, Conversation, GenerationConfig, UsageTotals
from llm_engineering.infrastructure.llm.chat_api import HttpChatOptions
from llm_engineering.infrastructure.llm.openai_compatible import OpenAICompatibleChatModel
from tests.support.chat_server import ChatServer, Reply
from tests.support.http_server import LocalServer, Route
from tests.support.streaming import drain

GREEDY = GenerationConfig(max_new_tokens=32, temperature=0)
FAST = HttpChatOptions(timeout_s=5, max_retries=2, backoff_s=0.01)


def ask(*questions: str) -> list[Conversation]:
    return [[ChatMessage(role="user", content=question)] for question in questions]


def model_for(server: ChatServer, options: HttpChatOptions = FAST) -> OpenAICompatibleChatModel:
    return OpenAICompatibleChatModel(server.base_url, "twin-test", SecretStr("sk-local"), options)


def test_sends_the_chat_request_and_parses_the_answer() -> None:
    config = GenerationConfig(max_new_tokens=7, temperature=0.5, top_p=0.9, seed=11)
    conversation = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")]
    with ChatServer() as server:
        [completion] = model_for(server).generate([conversation], config)
    assert server.bodies == [
        {
            "model": "twin-test",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "max_tokens": 7,
            "temperature": 0.5,
            "top_p": 0.9,
            "seed": 11,
        }
    ]
    assert server.headers[0]["Authorization"] == "Bearer sk-local"
    assert (completion.text, completion.model) == ("echo: Hi", "twin-test")
    assert (completion.prompt_tokens, completion.completion_tokens) == (3, 2)


def test_keeps_order_when_later_requests_finish_first() -> None:
    questions = [f"q{index}" for index in range(6)]
    delays = {question: 0.3 - 0.05 * index for index, question in enumerate(questions)}

    def slower_first(body: dict[str, Any], attempt: int) -> Reply:
        return Reply(delay_s=delays[body["messages"][-1]["content"]])

    with ChatServer(slower_first) as server:
        completions = model_for(server, FAST.model_copy(update={"concurrency": 6})).generate(
            ask(*questions), GREEDY
        )
    assert [completion.text for completion in completions] == [f"echo: {q}" for q in questions]
    assert server.max_in_flight > 1  # they really ran side by side, so order had to be restored


def test_never_exceeds_the_concurrency_limit() -> None:
    with ChatServer(lambda body, attempt: Reply(delay_s=0.1)) as server:
        completions = model_for(server, FAST.model_copy(update={"concurrency": 3})).generate(
            ask(*(f"q{index}" for index in range(9))), GREEDY
        )
    assert len(completions) == 9
    assert server.max_in_flight == 3


def test_retries_429_honouring_retry_after() -> None:
    def busy_once(body: dict[str, Any], attempt: int) -> Reply:
        return Reply(status=429, headers={"Retry-After": "1"}) if attempt == 1 else Reply()

    with ChatServer(busy_once) as server:
        started = time.perf_counter()
        [completion] = model_for(server).generate(ask("hello"), GREEDY)
        elapsed = time.perf_counter() - started
    assert completion.text == "echo: hello"
    assert server.attempts["hello"] == 2
    assert elapsed >= 1.0  # the server's delay, not the 0.01 s backoff


def test_retries_server_errors_then_succeeds() -> None:
    def failing_twice(body: dict[str, Any], attempt: int) -> Reply:
        return Reply(status=500 if attempt == 1 else 503) if attempt <= 2 else Reply()

    with ChatServer(failing_twice) as server:
        [completion] = model_for(server).generate(ask("hello"), GREEDY)
    assert completion.text == "echo: hello"
    assert server.attempts["hello"] == 3


def test_gives_up_after_max_retries() -> None:
    with ChatServer(lambda body, attempt: Reply(status=503)) as server:
        with pytest.raises(LLMError, match=r"failed 3 times.*503"):
            model_for(server).generate(ask("hello"), GREEDY)
    assert server.attempts["hello"] == 3


@pytest.mark.parametrize(("status", "advice"), [(400, "OPENAI_MODEL_ID"), (401, "OPENAI_API_KEY")])
def test_client_errors_fail_at_once(status: int, advice: str) -> None:
    with ChatServer(lambda body, attempt: Reply(status=status)) as server:
        with pytest.raises(LLMError, match=rf"{status}.*{advice}") as raised:
            model_for(server).generate(ask("hello"), GREEDY)
    assert server.attempts["hello"] == 1
    assert server.base_url in str(raised.value)


def test_timeout_is_retried_then_raised() -> None:
    options = HttpChatOptions(timeout_s=0.2, max_retries=1, backoff_s=0.01)
    with ChatServer(lambda body, attempt: Reply(delay_s=1.0)) as server:
        with pytest.raises(LLMError, match=r"failed 2 times.*no answer within 0.2 s"):
            model_for(server, options).generate(ask("hello"), GREEDY)
    assert server.attempts["hello"] == 2


def test_unreachable_server_raises_llm_error() -> None:
    with ChatServer() as server:
        url = server.base_url
    model = OpenAICompatibleChatModel(url, "twin-test", None, FAST.model_copy(update={"max_retries": 0}))
    with pytest.raises(LLMError, match="could not be reached"):
        model.generate(ask("hello"), GREEDY)


@pytest.mark.parametrize("supported", [True, False])
def test_json_mode_is_sent_only_when_supported(supported: bool) -> None:
    options = FAST.model_copy(update={"json_mode_supported": supported})
    with ChatServer() as server:
        model_for(server, options).generate(ask("a"), GREEDY.model_copy(update={"json_mode": True}))
        model_for(server, options).generate(ask("b"), GREEDY)
    formats = [body.get("response_format") for body in server.bodies]
    assert formats == [{"type": "json_object"} if supported else None, None]


def test_usage_and_cost_are_summed() -> None:
    options = FAST.model_copy(update={"prompt_price_per_1k": 0.5, "completion_price_per_1k": 2.0})
    usage = {"a": (100, 10), "b": (300, 40)}

    def counted(body: dict[str, Any], attempt: int) -> Reply:
        return Reply(usage=usage[body["messages"][-1]["content"]])

    with ChatServer(counted) as server:
        completions = model_for(server, options).generate(ask("a", "b"), GREEDY)
    totals = UsageTotals().add(completions)
    assert (totals.calls, totals.prompt_tokens, totals.completion_tokens) == (2, 400, 50)
    assert completions[0].cost_usd == pytest.approx(0.05 + 0.02)
    assert totals.cost_usd == pytest.approx(0.4 * 0.5 + 0.05 * 2.0)


def test_no_conversations_make_no_requests() -> None:
    with ChatServer() as server:
        assert model_for(server).generate([], GREEDY) == []
    assert server.bodies == []


def test_choice_probabilities_come_from_top_logprobs() -> None:
    import math

    top = [(" 3", math.log(0.5)), ("2", math.log(0.2)), ("The", math.log(0.2)), ("3", math.log(0.1))]
    with ChatServer(lambda body, attempt: Reply(content="3", top_logprobs=top)) as server:
        [chances] = model_for(server).choice_probabilities(ask("Score it."), ["1", "2", "3"])
    assert chances == pytest.approx({"1": 0.0, "2": 0.2 / 0.8, "3": 0.6 / 0.8})
    body = server.bodies[0]
    assert (body["max_tokens"], body["temperature"], body["logprobs"], body["top_logprobs"]) == (
        1,
        0,
        True,
        20,
    )


@pytest.mark.parametrize(
    ("top", "message"),
    [(None, "no top_logprobs"), ([("Sure", -0.1), ("I", -2.0)], "None of")],
)
def test_choice_probabilities_explain_what_is_missing(top: Any, message: str) -> None:
    with ChatServer(lambda body, attempt: Reply(content="x", top_logprobs=top)) as server:
        with pytest.raises(LLMError, match=message):
            model_for(server).choice_probabilities(ask("Score it."), ["1", "2", "3"])


def test_a_repetition_penalty_is_sent_only_when_set() -> None:
    with ChatServer() as server:
        model_for(server).generate(ask("Hi"), GREEDY.model_copy(update={"repetition_penalty": 1.15}))
        model_for(server).generate(ask("Hi again"), GREEDY)
    assert server.bodies[0]["repetition_penalty"] == 1.15 and "repetition_penalty" not in server.bodies[1]


def test_stream_yields_the_pieces_the_server_sends_and_returns_its_usage() -> None:
    reply = Reply(content="Rivers taught me patience.", usage=(12, 6))
    with ChatServer(lambda body, attempt: reply) as server:
        pieces, completion = drain(model_for(server).stream(ask("Why rivers?")[0], GREEDY))
    assert pieces == ["Rivers", " taught", " me", " patience."]
    assert server.bodies[0]["stream"] is True and server.bodies[0]["max_tokens"] == GREEDY.max_new_tokens
    assert server.bodies[0]["stream_options"] == {"include_usage": True}
    assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == (
        "Rivers taught me patience.",
        12,
        6,
    )


def test_a_stream_without_usage_counts_its_chunks() -> None:
    reply = Reply(content="Rivers taught me patience.", usage=(12, 6), stream_usage=False)
    with ChatServer(lambda body, attempt: reply) as server:
        pieces, completion = drain(model_for(server).stream(ask("Why rivers?")[0], GREEDY))
    assert (completion.prompt_tokens, completion.completion_tokens) == (0, len(pieces))


def test_usage_is_not_asked_of_a_server_that_refuses_stream_options() -> None:
    with ChatServer(lambda body, attempt: Reply(content="Rivers.", usage=(12, 6))) as server:
        options = HttpChatOptions(timeout_s=5, stream_usage_supported=False)
        model = OpenAICompatibleChatModel(server.base_url, "m", None, options)
        _, completion = drain(model.stream(ask("Why rivers?")[0], GREEDY))
    assert "stream_options" not in server.bodies[0] and completion.completion_tokens == 1


def test_a_refused_stream_says_why() -> None:
    with ChatServer(lambda body, attempt: Reply(status=401)) as server:
        with pytest.raises(LLMError, match="OPENAI_API_KEY"):
            list(model_for(server).stream(ask("Why rivers?")[0], GREEDY))


# --- why an answer ended, and whether the server is up -------------------------------------------------

CUT_ANSWER = {
    "model": "twin-test",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Rivers"}, "finish_reason": "length"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


def sse(*chunks: dict[str, Any]) -> str:
    """A stream as a server sends it: one `data:` event per chunk, then [DONE]."""
    return "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"


def test_an_answer_cut_at_max_tokens_finished_by_length() -> None:
    route = Route(body=json.dumps(CUT_ANSWER), content_type="application/json")
    with LocalServer({"/v1/chat/completions": route}) as server:
        model = OpenAICompatibleChatModel(server.url("/v1"), "twin-test", None, FAST)
        [completion] = model.generate(ask("Why rivers?"), GenerationConfig(max_new_tokens=1))
    assert (completion.text, completion.finish_reason) == ("Rivers", "length")
    with ChatServer() as server:  # says "stop"
        assert model_for(server).generate(ask("Hi"), GREEDY)[0].finish_reason == "stop"


def test_a_streamed_answer_takes_its_finish_reason_from_the_last_chunk() -> None:
    chunk = {"object": "chat.completion.chunk"}
    events = sse(
        {**chunk, "choices": [{"index": 0, "delta": {"content": "Rivers"}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
        {**chunk, "choices": [], "usage": CUT_ANSWER["usage"]},
    )
    route = Route(body=events, content_type="text/event-stream")
    with LocalServer({"/v1/chat/completions": route}) as server:
        model = OpenAICompatibleChatModel(server.url("/v1"), "twin-test", None, FAST)
        pieces, completion = drain(model.stream(ask("Why rivers?")[0], GenerationConfig(max_new_tokens=1)))
    assert pieces == ["Rivers"] and completion.finish_reason == "length"
    with ChatServer() as server:  # sends no finish reason at all: the answer ended as far as we know
        assert drain(model_for(server).stream(ask("Hi")[0], GREEDY))[1].finish_reason == "stop"


def test_check_available_asks_the_model_list() -> None:
    models = Route(body='{"object": "list", "data": [{"id": "twin-test"}]}', content_type="application/json")
    with LocalServer({"/v1/models": models}) as server:
        OpenAICompatibleChatModel(
            server.url("/v1"), "twin-test", SecretStr("sk-local"), FAST
        ).check_available()
    assert server.requests["/v1/models"] == 1
    assert server.headers["/v1/models"]["Authorization"] == "Bearer sk-local"


def test_check_available_fails_on_an_error_status_or_no_answer() -> None:
    with LocalServer({"/v1/models": (503, "text/plain", "loading")}) as server:
        with pytest.raises(LLMError, match=r"GET /models with 503: 'loading'"):
            OpenAICompatibleChatModel(server.url("/v1"), "twin-test", None, FAST).check_available()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = OpenAICompatibleChatModel(f"http://127.0.0.1:{port}/v1", "twin-test", None, FAST)
    started = time.perf_counter()
    with pytest.raises(LLMError, match=rf"127\.0\.0\.1:{port}/v1 could not be reached .*OPENAI_BASE_URL"):
        closed.check_available()
    assert time.perf_counter() - started < 3.5


def test_check_available_gives_up_after_three_seconds() -> None:
    slow = Route(body="{}", content_type="application/json", delay_s=4)
    with LocalServer({"/v1/models": slow}) as server:
        started = time.perf_counter()
        with pytest.raises(LLMError, match="did not answer GET /models within 3 s"):
            OpenAICompatibleChatModel(server.url("/v1"), "twin-test", None, FAST).check_available()
        assert time.perf_counter() - started < 3.5
