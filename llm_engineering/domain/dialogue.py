"""Conversations with the twin: a follow-up made standalone for retrieval, and the history a prompt keeps."""

import re
from urllib.parse import unquote, urlsplit

from llm_engineering.domain.generation import Conversation

# Words that make a question lean on an earlier turn ("and what does she say about its cost?").
_LEANING = re.compile(
    r"^\s*(?:and|but|also|so|then|what about|how about)\b|\b(?:it|its|it's|they|them|their|theirs|this|that|"
    r"these|those|he|him|his|she|her|hers|there|the same|the former|the latter|above|earlier)\b",
    re.IGNORECASE,
)


def leans_on_history(question: str) -> bool:
    """Whether the question refers back to the conversation (a pronoun, or starts with "and", "what about").

    >>> leans_on_history("And what does she say about its cost?"), leans_on_history("How do heat pumps work?")
    (True, False)
    """
    return _LEANING.search(question) is not None


def standalone_question(question: str, history: Conversation, max_turns: int) -> str:
    """The question as retrieval should search it: a question that leans on the conversation is preceded by
    the user's `max_turns` latest earlier questions, which hold the names and topics it points back to; a
    question that stands alone is kept as it is, so a change of topic does not drag the old one along.

    >>> from llm_engineering.domain.generation import ChatMessage
    >>> history = [ChatMessage(role="user", content="What does Iris write about heat pumps?"),
    ...            ChatMessage(role="assistant", content="She likes them.")]
    >>> standalone_question("And what does she say about their cost?", history, 2)
    'What does Iris write about heat pumps? And what does she say about their cost?'
    """
    if max_turns == 0 or not leans_on_history(question):
        return question
    earlier = [message.content.strip() for message in history if message.role == "user"][-max_turns:]
    return " ".join([*earlier, question]) if earlier else question


def recent_history(history: Conversation, max_messages: int, max_chars: int) -> Conversation:
    """The latest turns that fit both bounds, oldest first, starting with a user turn so that the chat
    template's alternation holds; a single turn longer than `max_chars` ends the window."""
    kept: Conversation = []
    used = 0
    for message in reversed(history[-max_messages:] if max_messages else []):
        if used + len(message.content) > max_chars:
            break
        kept.insert(0, message)
        used += len(message.content)
    while kept and kept[0].role != "user":
        kept.pop(0)
    return kept


def title_from_link(link: str) -> str:
    """A readable title for a source document from its link: its last path part, de-slugged.

    >>> title_from_link("https://iris.example/posts/heat-pumps-in-old-houses/")
    'Heat pumps in old houses'
    >>> title_from_link("file:///data/notes/grid_batteries.md")
    'Grid batteries'
    >>> title_from_link("https://medium.com/@iris/what-a-reranker-buys-you-5b1e0c93a7d2")  # no post id
    'What a reranker buys you'
    """
    parts = urlsplit(link)
    segments = [unquote(segment) for segment in parts.path.split("/") if segment]
    name = segments[-1] if segments else parts.netloc or link
    name = re.sub(r"\.(?:md|markdown|html?|txt|pdf)$", "", name, flags=re.IGNORECASE)
    name = re.sub(r"[-_](?=[0-9a-f]*\d)[0-9a-f]{8,}$", "", name)  # the id a platform appends to a slug
    words = re.sub(r"[-_+]+", " ", name).strip()
    return words[:1].upper() + words[1:] if words else link
