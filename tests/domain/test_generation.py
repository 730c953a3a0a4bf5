"""What a chat model returns: a Completion says why its answer ended."""

import pytest
from pydantic import ValidationError

from llm_engineering.domain.generation import Completion


def test_an_answer_ended_by_the_model_unless_a_backend_says_the_token_budget_cut_it() -> None:
    ended = Completion(text="Paris.", model="m", prompt_tokens=5, completion_tokens=3)
    assert ended.finish_reason == "stop"
    cut = Completion.model_validate({**ended.model_dump(), "finish_reason": "length"})
    assert cut.finish_reason == "length"
    assert Completion.model_validate(cut.model_dump(mode="json")) == cut
    with pytest.raises(ValidationError, match="finish_reason"):
        Completion(text="", model="m", prompt_tokens=0, completion_tokens=0, finish_reason="eos_token")  # type: ignore[arg-type]
