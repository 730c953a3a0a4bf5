"""Splitting text into overlapping windows of words."""


def chunk_words(text: str, size: int, overlap: int = 0) -> list[str]:
    """Split `text` into chunks of at most `size` words, each sharing `overlap` words with the last.

    >>> chunk_words("a b c d e", size=3, overlap=1)
    ['a b c', 'c d e']
    """
    if size <= 0:
        raise ValueError("size must be positive")
    if not 0 <= overlap < size:
        raise ValueError("overlap must be at least 0 and smaller than size")
    words = text.split()
    if not words:
        return []
    step = size - overlap
    chunks = []
    for start in range(0, len(words), step):
        chunks.append(" ".join(words[start : start + size]))
        if start + size >= len(words):
            break
    return chunks
