"""Reading a StreamingChatModel's stream to its end: the pieces it yields and the Completion it returns."""

from collections.abc import Generator

from llm_engineering.domain.generation import Completion


def drain(stream: Generator[str, None, Completion]) -> tuple[list[str], Completion]:
    pieces = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as end:
            return pieces, end.value
