"""Answering as the twin: guard the question, retrieve, build the sourced prompt, review the answer."""

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.prompting import render_conversation
from llm_engineering.application.retrieval import Retrieval, RetrievalConfig, Retriever
from llm_engineering.domain import guardrails as gr
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


class PreparedAnswer(BaseModel):
    """A question made ready for the model, or refused by an input guardrail."""

    question: str = Field(description="The question as the model sees it, after redaction.")
    conversation: Conversation = Field(default_factory=list)
    retrieval: Retrieval | None = None
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


def sources_of(chunks: list[RetrievedChunk]) -> list[Source]:
    """The numbered, linked sources the prompt cites, in the prompt's order."""
    return [
        Source(
            n=n,
            link=c.link,
            chunk_id=c.chunk_id,
            platform=c.platform,
            score=c.score,
            excerpt=c.content[:EXCERPT_CHARS],
        )
        for n, c in enumerate(chunks, start=1)
    ]


def build_conversation(question: str, chunks: list[RetrievedChunk], template: str) -> Conversation:
    """The twin's training system prompt, then the numbered passages and the question."""
    return render_conversation(template, system_prompt=TWIN_SYSTEM_PROMPT, question=question, sources=chunks)


def prepare(question: str, retriever: Retriever, config: AnswerConfig) -> PreparedAnswer:
    """Guard the question; when it passes, retrieve and build the prompt."""
    checked = gr.check_input(question, config.guardrails)
    if checked.blocked:
        return PreparedAnswer(
            question=checked.text, verdicts=checked.verdicts, refusal=gr.blocked_message(checked.verdicts)
        )
    retrieval = retriever.retrieve(checked.text)
    chunks = fit_context(retrieval.chunks, config.max_context_chars)
    return PreparedAnswer(
        question=checked.text,
        conversation=build_conversation(checked.text, chunks, config.prompt),
        retrieval=retrieval,
        sources=sources_of(chunks),
        verdicts=checked.verdicts,
    )


def review(answer: str, config: AnswerConfig) -> ReviewedAnswer:
    """Output guardrails; a blocked answer is replaced by a message that says why."""
    verdicts = gr.check_output(answer, TWIN_SYSTEM_PROMPT, config.guardrails)
    blocked = any(v.blocked for v in verdicts)
    text = gr.blocked_message(verdicts) if blocked else answer.strip()
    return ReviewedAnswer(text=text, verdicts=verdicts)
