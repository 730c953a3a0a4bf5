"""Instruction and preference samples, the datasets they form, and the passages they are written from."""

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.fences import fence_closes, fence_opening
from llm_engineering.domain.segmentation import Span, sentence_spans


class DatasetType(StrEnum):
    """Which dataset a generation run builds: instruction pairs for SFT or preference triples for DPO."""

    INSTRUCTION = "instruction"
    PREFERENCE = "preference"


class MalformedAnswerError(TwinError):
    """A generator LLM's answer holds no usable instruction or answer; `reason` says what was wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sample(Protocol):
    """What the quality filters read from either kind of sample."""

    @property
    def category(self) -> DataCategory: ...

    @property
    def source_link(self) -> str: ...

    def question(self) -> str: ...

    def passage(self) -> str: ...

    def generated(self) -> dict[str, str]: ...

    def texts(self) -> dict[str, str]:
        """Every text field by name, the question first."""
        ...


class InstructSample(BaseModel):
    """An instruction an LLM wrote for a passage of the author, answered by that passage."""

    model_config = ConfigDict(frozen=True)

    instruction: str
    output: str
    category: DataCategory
    source_link: str

    def question(self) -> str:
        return self.instruction

    def passage(self) -> str:
        """The author's own text."""
        return self.output

    def generated(self) -> dict[str, str]:
        """The fields an LLM wrote, by name."""
        return {"instruction": self.instruction}

    def texts(self) -> dict[str, str]:
        """Every text field, by name."""
        return {"instruction": self.instruction, "output": self.output}


class PreferenceSample(BaseModel):
    """An instruction, the author's passage as the preferred answer, and a generic LLM answer as the other."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    chosen: str
    rejected: str
    category: DataCategory
    source_link: str

    def question(self) -> str:
        return self.prompt

    def passage(self) -> str:
        """The author's own text."""
        return self.chosen

    def generated(self) -> dict[str, str]:
        """The fields an LLM wrote, by name."""
        return {"prompt": self.prompt, "rejected": self.rejected}

    def texts(self) -> dict[str, str]:
        """Every text field, by name."""
        return {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}


def _split_counts(splits: dict[str, Sequence[Sample]]) -> dict[str, dict[str, int]]:
    return {
        name: dict(sorted(Counter(sample.category.value for sample in samples).items()))
        for name, samples in splits.items()
    }


class InstructDataset(BaseModel):
    """The `instruct_datasets` artifact: instruction samples split into train and test."""

    dataset_type: ClassVar[DatasetType] = DatasetType.INSTRUCTION

    train: list[InstructSample]
    test: list[InstructSample]

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per split and category, e.g. {"train": {"articles": 40}, "test": {"articles": 4}}."""
        return _split_counts({"train": self.train, "test": self.test})


class PreferenceDataset(BaseModel):
    """The `preference_datasets` artifact: preference samples split into train and test."""

    dataset_type: ClassVar[DatasetType] = DatasetType.PREFERENCE

    train: list[PreferenceSample]
    test: list[PreferenceSample]

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per split and category, e.g. {"train": {"posts": 40}, "test": {"posts": 4}}."""
        return _split_counts({"train": self.train, "test": self.test})


def _lines(text: str, start: int, end: int) -> Iterator[Span]:
    """Spans of the non-blank lines in text[start:end], indentation kept, trailing whitespace left out."""
    offset = start
    for line in text[start:end].split("\n"):
        if line.strip():
            yield offset, offset + len(line.rstrip())
        offset += len(line) + 1


def _blocks(text: str) -> list[tuple[Span, bool]]:
    """Paragraph spans, each with whether it is a fenced code block (which keeps its blank lines inside)."""
    blocks: list[tuple[Span, bool]] = []
    start = end = offset = 0
    inside = False  # whether a paragraph is open
    fence: str | None = None  # the fence of the open code block, if one is open
    for line in text.split("\n"):
        if fence is not None:
            end = offset + len(line.rstrip()) if line.strip() else end
            if fence_closes(line, fence):
                blocks.append(((start, end), True))
                inside, fence = False, None
        elif not line.strip():
            if inside:
                blocks.append(((start, end), False))
            inside = False
        else:
            fence = fence_opening(line)
            if fence is not None and inside:
                blocks.append(((start, end), False))
                inside = False
            if not inside:
                start, inside = offset, True
            end = offset + len(line.rstrip())
        offset += len(line) + 1
    if inside:
        blocks.append(((start, end), fence is not None))
    return blocks


def _pieces(text: str, span: Span, code: bool, max_chars: int) -> list[Span]:
    """A block whole if it fits; else its lines, and a prose line that does not fit its sentences, then words.

    A code line is never cut: half a line of code reads as nothing.
    """
    if span[1] - span[0] <= max_chars:
        return [span]
    pieces: list[Span] = []
    for line in _lines(text, *span):
        if code or line[1] - line[0] <= max_chars:
            pieces.append(line)
            continue
        for start, end in sentence_spans(text, *line):
            if end - start <= max_chars:
                pieces.append((start, end))
            else:
                pieces += [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    return pieces


def context_windows(text: str, max_chars: int, min_chars: int) -> list[str]:
    """Passages of a cleaned document cut on paragraph boundaries, in order; short ones are dropped.

    Consecutive paragraphs are merged while the passage stays within `max_chars`. A paragraph or fenced
    code block is split only when it alone is longer: code between lines (a single longer line stays one
    passage), prose between lines, then sentences, then words. Passages under `min_chars` are dropped.
    """
    if max_chars < 1 or not 0 <= min_chars <= max_chars:
        raise ValueError(
            f"Need 0 <= min_chars <= max_chars and max_chars >= 1, got min_chars={min_chars}, "
            f"max_chars={max_chars}."
        )
    windows: list[Span] = []
    for span, code in _blocks(text):
        for start, end in _pieces(text, span, code, max_chars):
            if windows and end - windows[-1][0] <= max_chars:
                windows[-1] = (windows[-1][0], end)
            else:
                windows.append((start, end))
    return [text[start:end] for start, end in windows if end - start >= min_chars]
