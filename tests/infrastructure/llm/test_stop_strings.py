"""Stop strings: where an answer is cut, and how a stream holds back text that may start one."""

import pytest
from pydantic import ValidationError

from llm_engineering.domain.generation import GenerationConfig, cut_at_stop
from llm_engineering.infrastructure.llm.chat_api import chat_body
from llm_engineering.infrastructure.llm.local.generation import StopCutter, cut_stream


def test_the_answer_is_cut_before_the_first_stop_string_after_the_start() -> None:
    assert cut_at_stop("What is it?\nThe answer", ("\n",)) == ("What is it?", True)
    assert cut_at_stop("a END b STOP", ("STOP", "END")) == ("a ", True)
    assert cut_at_stop("no stop here", ("\n",)) == ("no stop here", False)
    assert cut_at_stop("Q: x. y.", (".",), start=5) == ("Q: x. y", True)
    assert cut_at_stop("Q.: x. y.", (".",), start=3) == ("Q.: x", True)


def test_a_stream_never_shows_a_stop_string_split_across_pieces() -> None:
    cutter = StopCutter(["<END>"])
    shown = [cutter.feed(piece) for piece in ["Hello wor", "ld <E", "N", "D> and more", "ignored"]]
    assert "".join(shown) == "Hello world "
    assert cutter.stopped and cutter.text == "Hello world " and cutter.flush() == ""
    assert not any("<" in piece for piece in shown)  # "<E" might open the stop string, so it waited


def test_text_held_back_is_shown_when_the_stream_ends_without_a_stop() -> None:
    def pieces():
        yield "one <"
        yield "E"
        return "result"

    stream = cut_stream(pieces(), ["<END>"])
    shown = []
    try:
        while True:
            shown.append(next(stream))
    except StopIteration as end:
        assert end.value == ("result", "one <E")
    assert "".join(shown) == "one <E"


def test_stop_strings_go_to_servers_and_empty_ones_are_refused() -> None:
    config = GenerationConfig(stop=("\n", "Answer:"))
    assert chat_body([], config, json_mode_supported=False)["stop"] == ["\n", "Answer:"]
    assert "stop" not in chat_body([], GenerationConfig(), json_mode_supported=False)
    with pytest.raises(ValidationError, match="cannot be empty"):
        GenerationConfig(stop=("",))
    with pytest.raises(ValidationError):
        GenerationConfig(stop=("a", "b", "c", "d", "e"))
