"""The dataset use case: feature store passages → LLM-written instructions → filtered, split datasets."""

import re
from collections.abc import Sequence

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.generation import generate_parsed, retry_config, sample_answers
from llm_engineering.application.ports import ChatModel, VectorIndex
from llm_engineering.application.prompting import render_conversation
from llm_engineering.domain import datasets as ds
from llm_engineering.domain.dataset_answers import parse_answer, parse_instruction
from llm_engineering.domain.dataset_quality import (
    NearDuplicateFinder,
    QualityConfig,
    apply_rule_filters,
    deduplicate,
    normalise_text,
)
from llm_engineering.domain.dataset_split import decontaminate, split
from llm_engineering.domain.documents import DataCategory
from llm_engineering.domain.features import CLEANED_COLLECTIONS, CleanedDocument
from llm_engineering.domain.generation import GenerationConfig, UsageTotals

Sample = ds.InstructSample | ds.PreferenceSample


class DatasetConfig(BaseModel):
    """Every tunable of the generate_datasets pipeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    test_split_size: float = Field(0.1, ge=0, lt=1, description="Share of samples held out for evaluation.")
    seed: int = Field(42, description="Seed of the split and of sampled generations.")
    window_max_chars: int = Field(1200, gt=0, description="Longest passage an instruction is written for.")
    window_min_chars: int = Field(150, ge=0, description="Shorter passages are not used.")
    max_passages: int | None = Field(None, gt=0, description="Use at most this many passages (quick runs).")
    batch_size: int = Field(
        32, gt=0, description="Conversations per generation call; local engines group them by length."
    )
    max_retries: int = Field(2, ge=0, description="Re-asks of a conversation whose answer did not parse.")
    # Sampling, not greedy: with a small model, greedy answers mostly restate the passage, and a retry
    # would repeat the same answer.
    # One line: a small model writes its question, then often answers it or rambles on.
    instruction_generation: GenerationConfig = GenerationConfig(
        max_new_tokens=40, temperature=0.7, seed=42, stop=("\n",)
    )
    instruction_starts: tuple[str, ...] = Field(
        ("How", "What", "Why"),
        min_length=1,
        description="Words an instruction is started with, in turn over passages, as the answer prefix of "
        "local engines (the prompt asks for the same); measured on the sample author with SmolLM2-135M, "
        "22% of free answers parsed on the first try, 53-65% of answers started with one of these.",
    )
    instructions_per_passage: int = Field(1, ge=1, description="Distinct instructions kept per passage.")
    instruction_samples: int = Field(
        1,
        ge=1,
        description="Answers sampled per passage and try, the usable ones kept (local engines read the "
        "prompt once for all of them; other backends are asked once per sample).",
    )
    answer_generation: GenerationConfig = GenerationConfig(max_new_tokens=160, temperature=0.7, seed=42)
    judge_threshold: int | None = Field(
        None, ge=1, le=3, description="Keep samples the judge scores at least this."
    )
    quality: QualityConfig = Field(default_factory=QualityConfig)
    instruction_prompt: str = Field(
        "instruction_v2", description="Template (application/prompts) asking for instructions."
    )
    answer_prompt: str = Field("answer_v1", description="Template asking for the rejected answers.")
    judge_prompt: str = Field("judge_v1", description="Template asking the judge for a score.")


class Passage(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    category: DataCategory
    author_full_name: str
    source_link: str


class GenerationReport(BaseModel):
    """What a dataset run did, for step metadata."""

    passages: int = 0
    instructions_asked: int = Field(0, description="Instruction answers generated on the first try.")
    first_try_parsed: int = Field(0, description="Of those, the ones usable as written.")
    malformed: int = 0
    filtered: dict[str, int] = Field(default_factory=dict)
    usage: UsageTotals = Field(default_factory=UsageTotals)
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)


def read_cleaned_documents(index: VectorIndex) -> list[CleanedDocument]:
    """Every cleaned document in the feature store, read page by page."""
    documents = []
    for collection in CLEANED_COLLECTIONS.values():
        for point in index.scroll(collection):
            payload = {k: v for k, v in point.payload.items() if k not in {"document_id", "content"}}
            documents.append(CleanedDocument.model_validate({**payload, "id": point.payload["document_id"]}))
    return sorted(documents, key=lambda d: str(d.id))


def document_texts(document: CleanedDocument) -> list[str]:
    """What passages are cut from: the whole text, or each repository file fenced so its lines stay whole."""
    if document.category is DataCategory.REPOSITORIES:
        return [f"```\n# {section.name}\n{section.text}\n```" for section in document.sections]
    return [document.content]


def build_passages(documents: Sequence[CleanedDocument], config: DatasetConfig) -> list[Passage]:
    passages = [
        Passage(text=window, category=d.category, author_full_name=d.author_full_name, source_link=d.link)
        for d in documents
        for text in document_texts(d)
        for window in ds.context_windows(text, config.window_max_chars, config.window_min_chars)
    ]
    return passages[: config.max_passages] if config.max_passages else passages


def write_instructions(
    passages: Sequence[Passage], chat: ChatModel, config: DatasetConfig, report: GenerationReport
) -> list[tuple[Passage, str]]:
    """Up to `instructions_per_passage` distinct instructions for each passage.

    Each try samples `instruction_samples` answers per passage, all started with one start word (the start
    words go round the passages, and move on at each retry), and keeps the distinct ones that parse;
    passages still short of instructions are asked again, up to `max_retries` times. Passages that never
    got one are dropped, and every missing instruction is counted as malformed.
    """
    starts, wanted = config.instruction_starts, config.instructions_per_passage
    found: list[list[str]] = [[] for _ in passages]
    pending = list(range(len(passages)))
    for attempt in range(config.max_retries + 1):
        generation = (
            config.instruction_generation
            if attempt == 0
            else retry_config(config.instruction_generation, attempt)
        )
        for start in dict.fromkeys(starts):
            group = [n for n in pending if starts[(n + attempt) % len(starts)] == start]
            if group:
                kept = ask_for_instructions(
                    passages,
                    group,
                    chat,
                    generation.model_copy(update={"answer_prefix": start}),
                    config,
                    report,
                    first_try=attempt == 0,
                )
                for n, instructions in zip(group, kept, strict=True):
                    seen = {normalise_text(i) for i in found[n]}
                    for instruction in instructions:
                        if len(found[n]) < wanted and normalise_text(instruction) not in seen:
                            seen.add(normalise_text(instruction))
                            found[n].append(instruction)
        pending = [n for n in pending if len(found[n]) < wanted]
        if not pending:
            break
    report.malformed += sum(wanted - len(instructions) for instructions in found)
    return [(passages[n], text) for n, instructions in enumerate(found) for text in instructions]


def ask_for_instructions(
    passages: Sequence[Passage],
    group: Sequence[int],
    chat: ChatModel,
    generation: GenerationConfig,
    config: DatasetConfig,
    report: GenerationReport,
    first_try: bool,
) -> list[list[str]]:
    """The instructions that parse among `instruction_samples` answers for each passage of `group`."""
    kept: list[list[str]] = []
    for begin in range(0, len(group), config.batch_size):
        batch = [passages[n] for n in group[begin : begin + config.batch_size]]
        conversations = [
            render_conversation(
                config.instruction_prompt, passage=p.text, author=p.author_full_name, category=p.category
            )
            for p in batch
        ]
        answers = sample_answers(chat, conversations, generation, config.instruction_samples)
        report.usage = report.usage.add([answer for sampled in answers for answer in sampled])
        for passage, sampled in zip(batch, answers, strict=True):
            parsed = []
            for answer in sampled:
                try:
                    parsed.append(parse_instruction(answer.text, passage.text))
                except ds.MalformedAnswerError:
                    continue  # one of several samples: counted with the others, not reported alone
            kept.append(parsed)
            if first_try:
                report.instructions_asked += len(sampled)
                report.first_try_parsed += len(parsed)
    return kept


def write_answers(
    instructions: Sequence[str], chat: ChatModel, config: DatasetConfig, report: GenerationReport
) -> dict[int, str]:
    conversations = [render_conversation(config.answer_prompt, instruction=i) for i in instructions]
    parsed, usage, failures, _ = generate_parsed(
        chat,
        conversations,
        lambda _, text: parse_answer(text),
        config.answer_generation,
        config.batch_size,
        config.max_retries,
    )
    report.usage = report.usage.add_totals(usage)
    report.malformed += len(failures)
    return parsed


def parse_score(_: int, answer: str) -> str:
    """The first score from 1 to 3 in a judge's answer."""
    match = re.search(r"\b([1-3])\b", answer)
    if match is None:
        raise ds.MalformedAnswerError(f"no score 1-3 in {answer[:60]!r}")
    return match.group(1)


def judge(
    samples: list[Sample], chat: ChatModel, config: DatasetConfig, report: GenerationReport
) -> list[Sample]:
    """Keep the samples an LLM judge scores at least `judge_threshold`; unscored samples are dropped."""
    if config.judge_threshold is None:
        return samples
    conversations = [
        render_conversation(config.judge_prompt, instruction=instruction(s), answer=answer(s))
        for s in samples
    ]
    scores, usage, _, _ = generate_parsed(
        chat,
        conversations,
        parse_score,
        GenerationConfig(max_new_tokens=4, temperature=0.0),
        config.batch_size,
        config.max_retries,
    )
    report.usage = report.usage.add_totals(usage)
    kept = [s for i, s in enumerate(samples) if int(scores.get(i, "0")) >= config.judge_threshold]
    report.filtered["judge"] = len(samples) - len(kept)
    return kept


def instruction(sample: Sample) -> str:
    return sample.instruction if isinstance(sample, ds.InstructSample) else sample.prompt


def answer(sample: Sample) -> str:
    return sample.output if isinstance(sample, ds.InstructSample) else sample.chosen


def curate(
    samples: list[Sample],
    config: DatasetConfig,
    near_duplicates: NearDuplicateFinder,
    report: GenerationReport,
) -> tuple[list[Sample], list[Sample]]:
    """Filter, deduplicate, split, then drop train samples that overlap the test split."""
    kept, rules = apply_rule_filters(samples, config.quality)
    report.filtered.update(rules.removed)
    kept, exact, near = deduplicate(kept, config.quality, near_duplicates)
    report.filtered["exact_duplicates"] = exact
    report.filtered["near_duplicates"] = near
    train, test = split(kept, config.test_split_size, config.seed)
    train, contaminated = decontaminate(train, test, config.quality.decontamination_ngram)
    report.filtered["contaminated"] = contaminated
    return train, test


def generate_dataset(
    documents: Sequence[CleanedDocument],
    chat: ChatModel,
    dataset_type: ds.DatasetType,
    config: DatasetConfig,
    near_duplicates: NearDuplicateFinder,
) -> tuple[ds.InstructDataset | ds.PreferenceDataset, GenerationReport]:
    """The whole dataset run over cleaned documents: cut passages, generate, judge, curate."""
    report = GenerationReport()
    passages = build_passages(documents, config)
    report.passages = len(passages)
    logger.info("Writing instructions for {} passages with {}", len(passages), chat.model_id)
    pairs = write_instructions(passages, chat, config, report)
    samples: list[Sample]
    if dataset_type is ds.DatasetType.INSTRUCTION:
        samples = [
            ds.InstructSample(instruction=i, output=p.text, category=p.category, source_link=p.source_link)
            for p, i in pairs
        ]
    else:
        rejected = write_answers([i for _, i in pairs], chat, config, report)
        samples = [
            ds.PreferenceSample(
                prompt=i, chosen=p.text, rejected=rejected[n], category=p.category, source_link=p.source_link
            )
            for n, (p, i) in enumerate(pairs)
            if n in rejected
        ]
    train, test = curate(judge(samples, chat, config, report), config, near_duplicates, report)
    dataset = (
        ds.InstructDataset(train=train, test=test)
        if dataset_type is ds.DatasetType.INSTRUCTION
        else ds.PreferenceDataset(train=train, test=test)
    )
    report.counts = dataset.counts()
    return dataset, report
