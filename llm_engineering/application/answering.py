"""Answering as the twin: guard the conversation, retrieve, screen the passages, build the sourced prompt with
the recent history, review the answer."""

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application import screening
from llm_engineering.application.prompting import render_conversation
from llm_engineering.application.retrieval import Retrieval, RetrievalConfig, Retriever
from llm_engineering.domain import guardrails as gr
from llm_engineering.domain.dialogue import recent_history, standalone_question, title_from_link
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT, Conversation, GenerationConfig
from llm_engineering.domain.inference import GuardrailVerdict, RetrievedChunk, Source

EXCERPT_CHARS = 280


class AnswerConfig(BaseModel):
    """Every tunable of answering a question."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    generation: GenerationConfig = Field(
        GenerationConfig(max_new_tokens=192, temperature=0.0),
        description="How the twin answers; greedy by default so an answer can be reproduced.",
    )
    guardrails: gr.GuardrailConfig = Field(default_factory=gr.GuardrailConfig)
    prompt: str = Field("rag_v1", description="Template of the sourced prompt.")
    max_context_chars: int = Field(6000, gt=0, description="Most passage characters put in the prompt.")
    history_messages: int = Field(
        6, ge=0, description="Most earlier messages of a conversation put in the prompt (0: none)."
    )
    history_chars: int = Field(2000, ge=0, description="Most characters of earlier messages in the prompt.")
    condense_turns: int = Field(
        2,
        ge=0,
        description="Earlier user questions put before a follow-up that refers back to them ('and what does "
        "she say about its cost?'), so that retrieval searches a standalone question (0: never).",
    )
    system_messages: Literal["append", "refuse"] = Field(
        "append",
        description="A client's system message: appended to the twin's own instructions after the input "
        "guardrails checked it, or refused with an error that says so.",
    )


class PreparedAnswer(BaseModel):
    """A question made ready for the model, or refused by an input guardrail."""

    question: str = Field(description="The question as the model sees it, after redaction.")
    search: str = Field("", description="What retrieval searched: the question, made standalone.")
    conversation: Conversation = Field(default_factory=list)
    retrieval: Retrieval | None = None
    context: list[RetrievedChunk] = Field(
        default_factory=list, description="The passages in the prompt, after screening and redaction."
    )
    sources: list[Source] = Field(default_factory=list)
    verdicts: list[GuardrailVerdict] = Field(default_factory=list)
    refusal: str | None = Field(None, description="Set when a guardrail blocked the question.")


class ReviewedAnswer(BaseModel):
    """An answer after the output guardrails: the text to send and what each check did."""

    text: str
    verdicts: list[GuardrailVerdict]

    @property
    def blocked(self) -> bool:
        return any(verdict.blocked for verdict in self.verdicts)


def fit_context(chunks: list[RetrievedChunk], max_chars: int) -> list[RetrievedChunk]:
    """The best chunks whose content fits in `max_chars` together; the first is always kept."""
    kept: list[RetrievedChunk] = []
    used = 0
    for chunk in chunks:
        if kept and used + len(chunk.content) > max_chars:
            break
        kept.append(chunk)
        used += len(chunk.content)
    return kept


def by_document(chunks: list[RetrievedChunk]) -> list[list[RetrievedChunk]]:
    """Chunks grouped by their document, documents in the order of their best chunk."""
    groups: dict[str, list[RetrievedChunk]] = {}
    for chunk in chunks:
        groups.setdefault(chunk.document_id, []).append(chunk)
    return list(groups.values())


def sources_of(chunks: list[RetrievedChunk]) -> list[Source]:
    """One numbered source per document, in the prompt's order: its title, link and best passage."""
    return [
        Source(
            n=n,
            title=title_from_link(group[0].link),
            link=group[0].link,
            chunk_ids=[chunk.chunk_id for chunk in group],
            platform=group[0].platform,
            score=group[0].score,
            excerpt=group[0].content[:EXCERPT_CHARS],
        )
        for n, group in enumerate(by_document(chunks), start=1)
    ]


def build_conversation(
    question: str,
    chunks: list[RetrievedChunk],
    template: str,
    history: Conversation = (),  # type: ignore[assignment]
    instructions: str | None = None,
) -> Conversation:
    """The twin's training system prompt (with a client's instructions after it), the recent history, then
    one numbered passage block per document and the question."""
    documents = [
        {"link": group[0].link, "content": "\n…\n".join(chunk.content for chunk in group)}
        for group in by_document(chunks)
    ]
    system = TWIN_SYSTEM_PROMPT + (f"\n\nThe application adds: {instructions}" if instructions else "")
    system_message, user = render_conversation(
        template, system_prompt=system, question=question, sources=documents
    )
    return [system_message, *history, user]


def prepare(
    question: str,
    retriever: Retriever,
    config: AnswerConfig,
    history: Conversation = (),  # type: ignore[assignment]
    instructions: str | None = None,
) -> PreparedAnswer:
    """Guard the question, the history and a client's instructions; when they pass, retrieve for the
    question made standalone, screen the passages and build the prompt."""
    checked = gr.check_input(question, config.guardrails)
    turns, instructions, fired = screening.guard_context(list(history), instructions, config.guardrails)
    verdicts = [*checked.verdicts, *fired]
    if any(verdict.blocked for verdict in verdicts):
        return PreparedAnswer(question=checked.text, verdicts=verdicts, refusal=gr.blocked_message(verdicts))
    search = standalone_question(checked.text, turns, config.condense_turns)
    retrieval = retriever.retrieve(search)
    passages, screened = screening.screen(retrieval.chunks, config.guardrails)
    context = fit_context(passages, config.max_context_chars)
    window = recent_history(turns, config.history_messages, config.history_chars)
    return PreparedAnswer(
        question=checked.text,
        search=search,
        conversation=build_conversation(checked.text, context, config.prompt, window, instructions),
        retrieval=retrieval,
        context=context,
        sources=sources_of(context),
        verdicts=[*verdicts, *screened],
    )


def review(answer: str, sources: Sequence[Source], config: AnswerConfig) -> ReviewedAnswer:
    """Output guardrails; a blocked answer is replaced by a message that says why."""
    check = gr.check_answer(
        answer, TWIN_SYSTEM_PROMPT, config.guardrails, allowed_links=[source.link for source in sources]
    )
    text = gr.blocked_message(check.verdicts) if check.blocked else check.text.strip()
    return ReviewedAnswer(text=text, verdicts=check.verdicts)


class SystemMessageRefusedError(TwinError):
    """The service refuses client system messages (`system_messages: refuse`); a 400 for the client."""
