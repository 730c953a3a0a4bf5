"""A cross-encoder reranker (any sentence-transformers CrossEncoder id or folder), loaded on first use."""

import threading
from collections.abc import Sequence
from typing import Any

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.inference import RetrievedChunk


class CrossEncoderReranker:
    """Scores each (question, chunk) pair jointly; more precise than the embedding order, and slower."""

    def __init__(self, model_id: str, device: str = "cpu") -> None:
        self.model_id, self.device = model_id, device
        self.name = f"cross-encoder:{model_id}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                try:
                    self._model = CrossEncoder(self.model_id, device=self.device)
                except (OSError, ValueError) as error:
                    raise TwinError(
                        f"Cannot load the cross-encoder {self.model_id!r} ({error}); set RERANKER_MODEL_ID "
                        "to a local CrossEncoder folder, or unset it to use the hybrid BM25 reranker."
                    ) from error
            return self._model

    def rerank(self, query: str, chunks: Sequence[RetrievedChunk], keep: int) -> list[RetrievedChunk]:
        if not chunks:
            return []
        scores = self._load().predict([(query, chunk.content) for chunk in chunks])
        ranked = sorted(zip(scores, chunks, strict=True), key=lambda pair: -float(pair[0]))[:keep]
        return [chunk.model_copy(update={"score": float(score)}) for score, chunk in ranked]
