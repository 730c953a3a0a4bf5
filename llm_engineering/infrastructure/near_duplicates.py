"""Near-duplicate detection over word shingles with MinHash signatures and LSH, by datasketch."""

from datasketch import MinHash, MinHashLSH

from llm_engineering.domain.dataset_quality import normalise_text, word_ngrams


def _shingles(text: str, size: int) -> list[bytes]:
    """Word `size`-grams of the normalised text, sorted; a shorter text is one shingle, an empty one none."""
    normalised = normalise_text(text)
    grams = word_ngrams(normalised, size) or ({normalised} if normalised else set())
    return sorted(gram.encode() for gram in grams)


def near_duplicate_indices(
    texts: list[str], threshold: float, num_perm: int, shingle: int, seed: int
) -> set[int]:
    """Indices of texts whose estimated shingle Jaccard similarity to an earlier kept text is >= threshold.

    Texts are read in order and the first of each group of near-duplicates is kept, so the result depends
    only on the texts, their order and `seed`. LSH proposes candidates; the MinHash estimate confirms them.
    Texts without words are never reported: exact deduplication is the place for those.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}.")
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: dict[int, MinHash] = {}
    duplicates: set[int] = set()
    for index, text in enumerate(texts):
        shingles = _shingles(text, shingle)
        if not shingles:
            continue
        signature = MinHash(num_perm=num_perm, seed=seed)
        signature.update_batch(shingles)
        if any(kept[other].jaccard(signature) >= threshold for other in lsh.query(signature)):
            duplicates.add(index)
        else:
            lsh.insert(index, signature)
            kept[index] = signature
    return duplicates
