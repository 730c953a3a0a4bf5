"""Pure pieces of retrieval: reading filters from a question, lexical scoring and rank fusion."""

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")
# How users name a platform, by the `platform` payload value the crawlers write.
PLATFORM_WORDS = {
    "medium": ("medium",),
    "linkedin": ("linkedin",),
    "substack": ("substack", "newsletter"),
    "github": ("github",),
    "gitlab": ("gitlab",),
    "blog": ("blog",),
}
PLATFORM_CUE = r"(?:on|from|in|at|via)\s+(?:(?:the|her|his|their|my)\s+)?"


def words(text: str) -> list[str]:
    """Lower-case word tokens, possessives folded ("calder's" → "calder").

    >>> words("Iris Calder's notes on RAG, 2024!")
    ['iris', 'calder', 'notes', 'on', 'rag', '2024']
    """
    return [re.sub(r"['\u2019]s$", "", token) for token in WORD.findall(text.lower())]


def find_author(question: str, authors: Mapping[str, str]) -> str | None:
    """The id of the one author the question names, by full name or by a name part no other author shares.

    `authors` maps author id to full name. None when the question names nobody, or is ambiguous.
    """
    asked = words(question)
    text = f" {' '.join(asked)} "
    full = [author for author, name in authors.items() if f" {' '.join(words(name))} " in text]
    if len(full) == 1:
        return full[0]
    if full:
        return None
    parts = Counter(part for name in authors.values() for part in set(words(name)) if len(part) > 2)
    named = {
        author
        for author, name in authors.items()
        for part in words(name)
        if parts[part] == 1 and part in asked
    }
    return named.pop() if len(named) == 1 else None


def find_platform(question: str, platforms: Iterable[str]) -> str | None:
    """The platform the question restricts to ("on Medium", "from her LinkedIn posts"), among `platforms`."""
    lowered = question.lower()
    found = {
        platform
        for platform in platforms
        for word in PLATFORM_WORDS.get(platform, (platform,))
        if re.search(rf"\b{PLATFORM_CUE}{re.escape(word)}\b", lowered)
    }
    return found.pop() if len(found) == 1 else None


def bm25_scores(query: str, documents: Sequence[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 of each document for the query, with the documents themselves as the corpus.

    Idf is ln(1 + (N - df + 0.5) / (df + 0.5)), which stays positive for terms in most documents.
    """
    if not documents:
        return []
    tokenized = [words(document) for document in documents]
    average = sum(len(tokens) for tokens in tokenized) / len(tokenized) or 1.0
    frequency = Counter(term for tokens in tokenized for term in set(tokens))
    n = len(documents)
    terms = set(words(query))
    scores = []
    for tokens in tokenized:
        counts = Counter(tokens)
        norm = k1 * (1 - b + b * len(tokens) / average)
        score = 0.0
        for term in terms & counts.keys():
            idf = math.log(1 + (n - frequency[term] + 0.5) / (frequency[term] + 0.5))
            score += idf * counts[term] * (k1 + 1) / (counts[term] + norm)
        scores.append(score)
    return scores


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = 60) -> dict[str, float]:
    """Each id's sum over rankings of 1 / (k + rank), rank from 1; ids missing from a ranking get nothing.

    >>> fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]])
    >>> fused["a"] == fused["b"]
    True
    """
    if k <= 0:
        raise ValueError("The RRF constant k must be positive.")
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def parse_query_variants(text: str, limit: int) -> list[str]:
    """Distinct questions from an LLM's list (numbered, bulleted or one per line), at most `limit`."""
    variants: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        variant = re.sub(r"^\s*(?:[-*•]|\d+[.)]|Q\d*[:.)])\s*", "", line).strip().strip("\"'")
        key = " ".join(words(variant))
        if len(key.split()) < 3 or key in seen:
            continue
        seen.add(key)
        variants.append(variant)
        if len(variants) == limit:
            break
    return variants
