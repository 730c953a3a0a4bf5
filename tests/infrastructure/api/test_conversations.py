"""The service as real clients use it: the official `openai` client in conversations, streaming and
conformance, and the service's answers to load, faults and oversized bodies."""

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from llm_engineering.domain.generation import GenerationConfig
from llm_engineering.infrastructure.api.app import ServiceLimits
from llm_engineering.infrastructure.api.service import TwinParts
from tests.support.service import (
    ConversationRecorder,
    HeldModel,
    StreamingScriptedModel,
    cite_first_source,
    fake_parts,
    running,
)

QUESTION = "How does Iris Calder chunk documents?"


@pytest.fixture
def recorder() -> ConversationRecorder:
    return ConversationRecorder()


@pytest.fixture
def parts(tmp_path: Path, recorder: ConversationRecorder) -> TwinParts:
    return fake_parts(tmp_path / "data", recorder)


@pytest.fixture
def client(parts: TwinParts) -> Iterator[openai.OpenAI]:
    with running(lambda: parts) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=20)


HISTORY = [
    {"role": "user", "content": "How does Iris Calder chunk documents?"},
    {"role": "assistant", "content": "By paragraph, with a sentence of overlap [1]."},
]


def test_a_multi_turn_conversation_reaches_the_model_with_its_history(
    client: openai.OpenAI, recorder: ConversationRecorder
) -> None:
    messages = [
        {"role": "system", "content": "Answer in two sentences."},
        *HISTORY,
        {"role": "user", "content": "And why does she keep that overlap?"},
    ]
    reply = client.chat.completions.create(model="llm-twin", messages=messages)  # type: ignore[arg-type]
    assert reply.model == "llm-twin-v7" and reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content.startswith("As I wrote:")  # type: ignore[union-attr]
    [asked] = recorder.conversations
    assert [m.role for m in asked] == ["system", "user", "assistant", "user"]
    assert asked[0].content.endswith("The application adds: Answer in two sentences.")
    assert asked[2].content == "By paragraph, with a sentence of overlap [1]."
    assert asked[3].content.endswith("Question: And why does she keep that overlap?")


def test_streaming_with_the_official_client_ends_with_the_finish_reason_and_usage(
    client: openai.OpenAI, recorder: ConversationRecorder
) -> None:
    recorder.finish_reason = "length"
    stream = client.chat.completions.create(
        model="llm-twin-v7",
        messages=[*HISTORY, {"role": "user", "content": "And what about code?"}],  # type: ignore[list-item]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text.startswith("As I wrote:") and finishes == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(text.split())
    assert len(recorder.conversations[0]) == 4  # system, the two turns, the question


def test_content_as_a_list_of_text_parts_is_read(
    client: openai.OpenAI, recorder: ConversationRecorder
) -> None:
    parts = [{"type": "text", "text": "How does Iris Calder"}, {"type": "text", "text": "chunk documents?"}]
    reply = client.chat.completions.create(model="llm-twin", messages=[{"role": "user", "content": parts}])  # type: ignore[list-item, misc]
    assert reply.choices[0].message.content
    assert recorder.conversations[0][-1].content.endswith("Question: How does Iris Calder\nchunk documents?")


@pytest.mark.parametrize(
    "options",
    [{"temperature": -3}, {"top_p": 7}, {"n": 3}, {"max_tokens": 0}],
    ids=["temperature", "top_p", "n", "max_tokens"],
)
def test_out_of_range_options_are_refused(client: openai.OpenAI, options: dict[str, float]) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(
            model="llm-twin",
            messages=[{"role": "user", "content": QUESTION}],
            **options,  # type: ignore[arg-type]
        )


def test_an_unknown_model_is_not_found_and_the_served_one_is_listed(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="llm-twin-v7"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert [m.id for m in client.models.list()] == ["llm-twin-v7"]


def test_client_options_reach_the_model(tmp_path: Path) -> None:
    seen: list[GenerationConfig] = []

    class Recording(StreamingScriptedModel):
        def generate(self, conversations, config):  # type: ignore[no-untyped-def]
            seen.append(config)
            return super().generate(conversations, config)

    parts = fake_parts(tmp_path, Recording(cite_first_source))
    with running(lambda: parts) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=20)
        client.chat.completions.create(
            model="llm-twin", messages=[{"role": "user", "content": QUESTION}], temperature=0.9, top_p=0.5
        )
    assert (seen[0].temperature, seen[0].top_p) == (0.9, 0.5)


def test_a_busy_service_refuses_a_stream_with_503_before_it_starts(tmp_path: Path) -> None:
    model = HeldModel()
    parts = fake_parts(tmp_path, model, max_queue=1)
    with running(lambda: parts) as url:
        first: list[httpx.Response] = []
        holder = threading.Thread(
            target=lambda: first.append(httpx.post(f"{url}/rag/stream", json={"query": QUESTION}, timeout=30))
        )
        holder.start()
        while (
            parts.model is not None and "twin_requests_in_flight 1.0" not in httpx.get(f"{url}/metrics").text
        ):
            pass
        busy = httpx.post(f"{url}/rag/stream", json={"query": QUESTION}, timeout=10)
        model.release.set()
        holder.join()
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1" and "retry" in busy.json()["detail"]
    assert first[0].status_code == 200 and "event: done" in first[0].text


def test_sixty_four_concurrent_streams_all_finish_or_get_503(tmp_path: Path) -> None:
    model = StreamingScriptedModel(cite_first_source)
    model.pause_s = 0.01
    parts = fake_parts(tmp_path, model, max_queue=48)
    outcomes: list[str] = []

    def stream(url: str) -> None:
        response = httpx.post(f"{url}/rag/stream", json={"query": QUESTION}, timeout=120)
        outcomes.append("done" if "event: done" in response.text else str(response.status_code))

    with running(lambda: parts) as url:
        threads = [threading.Thread(target=stream, args=(url,)) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert len(outcomes) == 64 and set(outcomes) <= {"done", "503"}
    assert outcomes.count("done") >= 48


def test_a_chunked_body_over_the_limit_is_refused(parts: TwinParts) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    with running(lambda: parts, ServiceLimits(max_body_bytes=4096)) as url:
        response = httpx.post(f"{url}/rag", content=body(), timeout=10)
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413 and "4096 bytes" in response.json()["detail"]
    assert 'twin_requests_total{endpoint="/rag",status="413"} 1.0' in metrics


def test_bugs_are_counted_as_500_and_abandoned_streams_leave_a_trace(tmp_path: Path) -> None:
    def broken(user: str, attempt: int) -> str:
        raise RuntimeError("exploded")

    model = StreamingScriptedModel(cite_first_source)
    model.pause_s = 0.2
    parts = fake_parts(tmp_path, model)
    with running(lambda: parts) as url:
        with httpx.stream("POST", f"{url}/rag/stream", json={"query": QUESTION}, timeout=10) as response:
            next(response.iter_lines())  # the sources; then the client leaves
        for _ in range(100):
            metrics = httpx.get(f"{url}/metrics", timeout=5).text
            if 'status="abandoned"' in metrics:
                break
            threading.Event().wait(0.05)
        model.answer = broken
        assert httpx.post(f"{url}/rag", json={"query": QUESTION}, timeout=10).status_code == 500
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert 'twin_requests_total{endpoint="/rag",status="500"} 1.0' in metrics
    assert 'twin_answers_total{endpoint="/rag/stream",status="abandoned"} 1.0' in metrics
    assert 'twin_request_latency_seconds_bucket{endpoint="/rag",le="0.25"}' in metrics
