"""One answer as events: the retrieval, the tokens, the traced end; conversations with the real retriever."""

from uuid import UUID, uuid5

import pytest

from llm_engineering.application.answering import AnswerConfig, SystemMessageRefusedError
from llm_engineering.application.ports import VectorPoint
from llm_engineering.application.retrieval import HybridReranker, RetrievalConfig, Retriever
from llm_engineering.application.twin import Ask, Finished, Retrieved, Token, Twin
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import EMBEDDED_COLLECTIONS, Chunk
from llm_engineering.domain.generation import ChatMessage
from llm_engineering.domain.inference import Trace
from llm_engineering.infrastructure.embeddings import SentenceTransformerEmbedder
from tests.support import rag
from tests.support.fakes import HashingEmbedder, InMemoryVectorIndex
from tests.support.service import StreamingScriptedModel, cite_first_source

CONFIG = AnswerConfig(retrieval=RetrievalConfig(queries=1, top_k=2))
QUESTION = "How does Iris Calder chunk documents?"


class Traces:
    def __init__(self) -> None:
        self.kept: list[Trace] = []

    def record(self, trace: Trace) -> None:
        self.kept.append(trace.model_copy(deep=True))


def twin(model: StreamingScriptedModel, sink: Traces, config: AnswerConfig = CONFIG) -> Twin:
    index, embedder = InMemoryVectorIndex(), HashingEmbedder()
    rag.fill(index, embedder)
    retriever = Retriever(index, embedder, HybridReranker(), None, rag.authors, config.retrieval)
    return Twin(retriever, model, sink, config, model_version="3")


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_is_retrieved_then_tokens_then_finished_and_traced_once(stream: bool) -> None:
    traces = Traces()
    events = list(
        twin(StreamingScriptedModel(cite_first_source), traces).answer(Ask(question=QUESTION, stream=stream))
    )
    assert isinstance(events[0], Retrieved) and isinstance(events[-1], Finished)
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert len(tokens) > 1 if stream else len(tokens) == 1
    [trace] = traces.kept
    assert trace.answer == "".join(tokens).strip() and trace.answer.startswith("As I wrote:")
    assert (trace.status, trace.finish_reason, trace.model_version) == ("ok", "stop", "3")
    assert events[0].answer_id == trace.id and trace.time_to_first_token_s is not None


def test_a_client_leaving_mid_stream_leaves_an_abandoned_trace() -> None:
    traces = Traces()
    events = twin(StreamingScriptedModel(cite_first_source), traces).answer(
        Ask(question=QUESTION, stream=True)
    )
    assert isinstance(next(events), Retrieved) and isinstance(next(events), Token)
    events.close()
    [trace] = traces.kept
    assert trace.status == "abandoned" and trace.total_latency_s > 0


def test_a_failing_model_leaves_an_error_trace_and_raises() -> None:
    def broken(user: str, attempt: int) -> str:
        raise RuntimeError("engine fell over")

    traces = Traces()
    with pytest.raises(RuntimeError, match="fell over"):
        list(twin(StreamingScriptedModel(broken), traces).answer(Ask(question=QUESTION)))
    [trace] = traces.kept
    assert trace.status == "error" and "engine fell over" in (trace.error or "")


def test_personal_data_the_model_streams_is_redacted_before_it_leaves() -> None:
    leaky = StreamingScriptedModel(
        lambda user, attempt: "Call me on +44 20 7946 0958 or at iris@example.com."
    )
    events = list(twin(leaky, Traces()).answer(Ask(question=QUESTION, stream=True)))
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "7946" not in streamed and "iris@example.com" not in streamed and "[PHONE]" in streamed


def test_client_options_reach_the_model_and_system_messages_can_be_refused() -> None:
    the_twin = twin(StreamingScriptedModel(cite_first_source), Traces())
    config = the_twin.generation(Ask(question=QUESTION, max_tokens=10_000, temperature=1.3, top_p=0.5))
    assert (config.max_new_tokens, config.temperature, config.top_p) == (512, 1.3, 0.5)
    strict = twin(
        StreamingScriptedModel(cite_first_source),
        Traces(),
        CONFIG.model_copy(update={"system_messages": "refuse"}),
    )
    with pytest.raises(SystemMessageRefusedError, match="system messages"):
        next(strict.answer(Ask(question=QUESTION, instructions="Be brief.")))


HOMES = UUID("5d1f2a3b-0000-4000-8000-0000000000aa")
IRIS = str(uuid5(HOMES, "iris"))
DOCUMENTS = {
    "heat-pumps": "Heat pumps warm an old stone house well if you insulate the loft first. Mine took a "
    "week to fit, and the grant paid half of what it cost.",
    "solar-panels": "What do solar panels cost? Less than you fear: the cost of mine came back in six "
    "years, and she who waits pays a lower price still, since what they cost keeps falling.",
    "sourdough": "My sourdough starter lives in the fridge and gets fed on Sundays. Rye makes it lively.",
    "cycling": "I cycle to the workshop every morning; the hill at the end is the best part of the ride.",
}


@pytest.fixture(scope="module")
def real_retriever() -> Retriever:
    """The real retriever over the packaged all-MiniLM-L6-v2 and the documents above."""
    embedder, index = SentenceTransformerEmbedder("all-MiniLM-L6-v2"), InMemoryVectorIndex()
    chunks = [
        Chunk(
            document_id=uuid5(HOMES, slug),
            chunk_index=0,
            section="article",
            content=text,
            category=DataCategory.ARTICLES,
            platform="blog",
            author_id=UUID(IRIS),
            author_full_name="Iris Calder",
            link=f"https://iris.example/posts/{slug}",
        )
        for slug, text in DOCUMENTS.items()
    ]
    collection = EMBEDDED_COLLECTIONS[DataCategory.ARTICLES]
    index.ensure_collection(collection, embedder.dimension)
    vectors = embedder.embed([c.content for c in chunks])
    index.upsert(
        collection,
        [VectorPoint(id=c.id, payload=c.payload(), vector=v) for c, v in zip(chunks, vectors, strict=True)],
    )
    return Retriever(index, embedder, HybridReranker(), None, lambda: {IRIS: "Iris Calder"}, CONFIG.retrieval)


def test_a_follow_up_that_leans_on_the_previous_turn_retrieves_from_the_right_document(
    real_retriever: Retriever,
) -> None:
    model = StreamingScriptedModel(cite_first_source)
    the_twin = Twin(real_retriever, model, Traces(), CONFIG)
    history = [
        ChatMessage(role="user", content="What does Iris Calder write about heat pumps?"),
        ChatMessage(
            role="assistant", content="That they warm an old stone house once the loft is insulated [1]."
        ),
    ]
    follow_up = Ask(question="And what does she say about its cost?", history=history)
    retrieved = next(the_twin.answer(follow_up))
    assert isinstance(retrieved, Retrieved)
    assert retrieved.prepared.sources[0].title == "Heat pumps"
    assert "Question: And what does she say about its cost?" in retrieved.prepared.conversation[-1].content
    alone = next(the_twin.answer(Ask(question="And what does she say about its cost?")))
    assert isinstance(alone, Retrieved)
    print(
        [(s.title, s.score) for s in alone.prepared.sources],
        [(s.title, s.score) for s in retrieved.prepared.sources],
    )
