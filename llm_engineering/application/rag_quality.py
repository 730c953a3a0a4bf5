"""The service's answers measured: hit@k and MRR of the retriever it uses, and its answers' grounding."""

from collections.abc import Callable, Mapping

from loguru import logger
from pydantic import BaseModel, Field

from llm_engineering.application import answering
from llm_engineering.application.evaluation_config import EvaluationConfig
from llm_engineering.application.grounding import measure_grounding
from llm_engineering.application.ports import ChatModel, SupportChecker, VectorIndex
from llm_engineering.application.retrieval import Retriever
from llm_engineering.application.retrieval_quality import generate_retrieval_questions, sample_chunks
from llm_engineering.domain import evaluation as ev
from llm_engineering.domain.bootstrap import Interval, bootstrap_mean, bootstrap_paired_difference
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.grounding import GroundingSummary


class RagQuality(BaseModel):
    """Retrieval by the served retriever, and per model the grounding of its answers to the same questions."""

    retrieval: dict[str, float] = Field(description="hit_at_k, mrr, k, queries.")
    grounding: dict[str, GroundingSummary] = Field(default_factory=dict)
    questions: list[str] = Field(default_factory=list)
    answers: dict[str, list[str]] = Field(default_factory=dict)

    def precision_interval(self, label: str) -> Interval | None:
        """Mean citation precision of `label`'s answers that cite, with its interval; None if none cite."""
        values = self.grounding[label].citation_precisions
        return bootstrap_mean(values) if values else None

    def precision_difference(self, label: str, reference: str) -> Interval | None:
        """Citation precision of `label` minus `reference` where both answers cite."""
        pairs = [
            (a.citation_precision, b.citation_precision)
            for a, b in zip(self.grounding[label].answers, self.grounding[reference].answers, strict=True)
            if a.citation_precision is not None and b.citation_precision is not None
        ]
        if len(pairs) < 2:
            return None
        return bootstrap_paired_difference([a for a, _ in pairs], [b for _, b in pairs])


def measure_served_rag(
    index: VectorIndex,
    retriever: Retriever,
    writer: ChatModel,
    models: Mapping[str, ChatModel],
    support: SupportChecker,
    answer_config: answering.AnswerConfig,
    config: EvaluationConfig,
) -> RagQuality:
    """Questions `writer` writes from sampled chunks go through the service's own path (guardrails,
    self-query, expansion, reranking, the sourced prompt): hit@k and MRR of the chunk each question came
    from among the passages the prompt gets, then each model's answers graded claim by claim."""
    chunks = sample_chunks(index, config.retrieval_queries, config.seed)
    questions = generate_retrieval_questions(writer, chunks, config)
    if not questions:
        raise TwinError("No retrieval question could be written; set retrieval_queries above 0.")
    prepared = [answering.prepare(question, retriever, answer_config) for question, _ in questions]
    answered = [(p, q) for p, q in zip(prepared, questions, strict=True) if p.refusal is None]
    contexts = [p.context for p, _ in answered]  # the passages the prompt holds, in its order
    ranked = [[chunk.chunk_id for chunk in context] for context in contexts]
    relevant = [chunk_id for _, (_, chunk_id) in answered]
    k = answer_config.retrieval.top_k
    retrieval = {
        "hit_at_k": ev.hit_at_k(ranked, relevant, k),
        "mrr": ev.mean_reciprocal_rank(ranked, relevant),
        "k": k,
        "queries": len(answered),
    }
    logger.info("Served retrieval over {} questions: {}", len(answered), retrieval)
    answers = {
        label: [
            c.text for c in model.generate([p.conversation for p, _ in answered], answer_config.generation)
        ]
        for label, model in models.items()
    }
    passages = [[chunk.content for chunk in context] for context in contexts]
    grounding = {
        label: measure_grounding(list(zip(texts, passages, strict=True)), support)
        for label, texts in answers.items()
    }
    return RagQuality(
        retrieval=retrieval,
        grounding=grounding,
        questions=[p.question for p, _ in answered],
        answers=answers,
    )


RetrieverFor = Callable[[ChatModel], Retriever]
"""The service's retriever, expanding queries with the given model as the service does with its own."""
