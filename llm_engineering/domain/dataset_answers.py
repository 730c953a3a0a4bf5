"""Reading the instruction or answer out of what a generator LLM wrote, and refusing what is unusable."""

import json
import re

from llm_engineering.domain.dataset_quality import normalise_text, word_ngrams
from llm_engineering.domain.datasets import MalformedAnswerError

MIN_INSTRUCTION_WORDS = 3
MAX_INSTRUCTION_WORDS = 60
MIN_ANSWER_WORDS = 5
# An instruction of at least this many words, with this share of its word 3-grams found in the passage,
# was copied from the passage rather than written for it. Shorter ones may fairly quote it ("What is X?").
ECHO_MIN_WORDS = 6
ECHO_SHARE = 0.8

# An instruction must be a question or a request: it ends with "?", or its first word, or the first word
# after a leading phrase and comma ("In two paragraphs, explain ..."), is one of these. Small models often
# return a statement lifted from the passage instead, which teaches nothing.
REQUEST_WORDS = frozenset(
    "what why how when where which who whom whose can could would should is are do does did will "
    "write explain describe summarize summarise list give show tell compare contrast outline discuss "
    "create draft provide implement design suggest share walk help generate define illustrate recommend "
    "propose argue analyze analyse evaluate assess build refactor fix debug convert translate rewrite "
    "document plan please name identify imagine reflect teach make set use".split()
)
JSON_KEYS = ("instruction", "question", "prompt", "task")
# "Instruction:", "**Question:**", '"instruction": "' and "Here is the instruction: " all end here, with
# any opening quote captured. "Question", "prompt", "task" and "Q" count only at the start of a line,
# since they also occur inside instructions.
LABEL = re.compile(
    r"(?:^[\W_]*(?:instruction|question|prompt|task|q)|\binstruction)\W{0,3}:[\s*_]*(?P<quote>[\"'\u201c`])?",
    re.IGNORECASE | re.MULTILINE,
)
# A line that introduces the answer rather than being it: "Sure! Here's an instruction for this passage:",
# "Sure!", or a bare heading such as "### Instruction".
PREAMBLE = re.compile(
    r"^(?:(?:sure|certainly|of course|okay|ok|absolutely|alright|great|here)\b(?:.*:|\W*(?:\w+\W*){0,3})"
    r"|[\W_]*(?:instruction|question|prompt|task)[\W_]*)$",
    re.IGNORECASE,
)
LIST_ITEM = re.compile(r"^(?:\d+[.)]|[-*\u2022])\s+")
# What follows the instruction in a chattier answer; reading stops there.
NEXT_PART = re.compile(r"^\W{0,3}(?:answer|response|output|passage|explanation|note)\W{0,3}:", re.IGNORECASE)
ANSWER_LABEL = re.compile(r"^[\s*_#]*(?:answer|response)[*_\s]*:[*_\s]*", re.IGNORECASE)
# Chat-template tokens a small model may emit, with the role name that follows an opening one.
SPECIAL_TOKENS = re.compile(r"<\|[\w-]+\|>(?:(?:system|user|assistant)\b)?|</?s>")
# An instruction that points at "the text" or "this passage" asks about something its reader never sees, so it
# cannot stand alone as a question to the twin; small models write these, and echo the prompt's own wording.
UNSEEN_TEXT = re.compile(
    r"\b(?:the|this|that|given|above|following)\s+(?:text|passage|excerpt|article|paragraph|snippet)s?\b",
    re.IGNORECASE,
)
QUOTE_PAIRS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "`": "`"}


def _from_json(answer: str) -> str | None:
    """The instruction of the first JSON object in the answer that has one, if any does."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", answer):
        try:
            value, _ = decoder.raw_decode(answer, match.start())
        except json.JSONDecodeError:
            continue  # not an object starting here; small models wrap JSON in prose, so try the next brace
        if not isinstance(value, dict):
            continue
        texts = {str(key).strip().lower(): text for key, text in value.items() if isinstance(text, str)}
        found = [texts[key] for key in JSON_KEYS if key in texts]
        if found or len(texts) == 1:
            return (found or list(texts.values()))[0]
    return None


def _first_part(text: str) -> str:
    """The first list item or paragraph, after any introducing lines, up to an answer that may follow."""
    lines = [line.strip() for line in text.strip().split("\n") if not line.strip().startswith("```")]
    while lines and (not lines[0] or PREAMBLE.match(lines[0])):
        lines.pop(0)
    part: list[str] = []
    for line in lines:
        if not line or NEXT_PART.match(line) or (part and LIST_ITEM.match(line)):
            break
        part.append(line)
    return " ".join(part)


def _after_label(answer: str) -> str:
    """The text after the first instruction label, up to its closing quote if it opened with one."""
    label = LABEL.search(answer)
    if label is None:
        return answer
    rest = answer[label.end() :]
    closer = QUOTE_PAIRS.get(label["quote"] or "")
    if closer is None:
        return rest
    # Quoted, as in broken JSON or a Python dict: the instruction ends at the last quote of its line.
    line = rest.lstrip().split("\n")[0]
    end = line.rfind(closer)
    return line[:end] if end > 0 else line


def _unquoted(text: str) -> str:
    """The text without markdown, list markers, labels, and the quotes or JSON debris around it."""
    previous = None
    while text != previous:
        previous = text
        text = LIST_ITEM.sub("", text.strip().strip(" ,{}[]").lstrip("#").replace("**", "").replace("__", ""))
        text = LABEL.sub("", text, count=1) if LABEL.match(text) else text
        text = text.strip()
        if len(text) > 1 and QUOTE_PAIRS.get(text[0]) == text[-1]:
            text = text[1:-1]
        elif text.count('"') % 2 == 1:  # JSON cut off before its closing quote
            text = text.strip('"')
    return " ".join(text.split())


def _is_echo(instruction: str, passage: str) -> bool:
    said, source = normalise_text(instruction), normalise_text(passage)
    if not said or not source:
        return False
    if said == source:
        return True
    grams = word_ngrams(said, 3)
    if len(said.split()) < ECHO_MIN_WORDS:
        return False
    return len(grams & word_ngrams(source, 3)) >= ECHO_SHARE * len(grams)


def _is_request(instruction: str) -> bool:
    if instruction.endswith("?"):
        return True
    openers = [instruction, *instruction.split(",", 1)[1:]]
    first_words = [normalise_text(opener).split()[:1] for opener in openers]
    return any(words and words[0] in REQUEST_WORDS for words in first_words)


def _validate(instruction: str, passage: str, answer: str) -> None:
    """Raise MalformedAnswerError with the first reason the parsed instruction cannot be used."""
    words = len(instruction.split())
    if not instruction:
        raise MalformedAnswerError(f"The answer holds no instruction: {answer[:80]!r}.")
    if _is_echo(instruction, passage):
        raise MalformedAnswerError(
            f"The instruction repeats the passage instead of asking for it: {instruction[:80]!r}."
        )
    if words < MIN_INSTRUCTION_WORDS:
        raise MalformedAnswerError(
            f"The instruction has {words} words, under {MIN_INSTRUCTION_WORDS}: {instruction!r}."
        )
    if words > MAX_INSTRUCTION_WORDS:
        raise MalformedAnswerError(
            f"The instruction has {words} words, over {MAX_INSTRUCTION_WORDS}: {instruction[:80]!r}."
        )
    if not _is_request(instruction):
        raise MalformedAnswerError(
            f"The instruction is neither a question nor a request: {instruction[:80]!r}."
        )
    if UNSEEN_TEXT.search(instruction):
        raise MalformedAnswerError(
            f"The instruction refers to a text its reader does not have: {instruction[:80]!r}."
        )
    if passage and not _content_words(instruction) & _content_words(passage):
        raise MalformedAnswerError(
            f"The instruction shares no content word with its passage: {instruction[:80]!r}."
        )


def _content_words(text: str) -> set[str]:
    """Lower-cased words of five letters or more: enough to tell whether two texts share a topic."""
    return {word.casefold() for word in re.findall(r"[^\W\d_]{5,}", text)}


def parse_instruction(answer: str, passage: str = "") -> str:
    """The instruction in a generator's answer: JSON, a labelled line, or plain text, cleaned of markdown.

    Raises MalformedAnswerError when it is empty, echoes `passage`, has under 3 or over 60 words, refers to
    "the text" or "this passage" (which its reader never sees), is neither a question nor a request (see
    REQUEST_WORDS), or shares no content word with `passage`.

    >>> parse_instruction('Sure! {"instruction": "Explain why the cache is keyed by hash."} Hope it helps.')
    'Explain why the cache is keyed by hash.'
    """
    answer = SPECIAL_TOKENS.sub("", answer)
    found = _from_json(answer)
    instruction = _unquoted(_first_part(_after_label(answer) if found is None else found))
    _validate(instruction, passage, answer)
    return instruction


def parse_answer(answer: str) -> str:
    """A free-text answer without surrounding whitespace or a leading "Answer:" label.

    Raises MalformedAnswerError when under 5 words remain.
    """
    text = ANSWER_LABEL.sub("", SPECIAL_TOKENS.sub("", answer).strip(), count=1).strip()
    if not text:
        raise MalformedAnswerError("The answer is empty.")
    if len(text.split()) < MIN_ANSWER_WORDS:
        raise MalformedAnswerError(f"The answer has under {MIN_ANSWER_WORDS} words: {text!r}.")
    return text
