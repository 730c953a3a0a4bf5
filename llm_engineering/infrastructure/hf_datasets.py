"""Datasets in Hugging Face form: DatasetDict conversion, file export and Hub upload."""

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from datasets import Dataset, DatasetDict, Features, Value
from loguru import logger

from llm_engineering.domain.datasets import (
    DatasetType,
    InstructDataset,
    InstructSample,
    PreferenceDataset,
    PreferenceSample,
)
from llm_engineering.domain.feedback import FeedbackPreference
from llm_engineering.infrastructure.hub import HubPublisher, HubRepo, PublishedCommit

# The columns TRL's SFT and DPO trainers read, in this order.
COLUMNS = {InstructDataset: ["instruction", "output"], PreferenceDataset: ["prompt", "chosen", "rejected"]}


def to_dataset_dict(dataset: InstructDataset | PreferenceDataset) -> DatasetDict:
    """Train and test splits with the trainer's columns first, then `category` and `source_link`."""
    columns = [*COLUMNS[type(dataset)], "category", "source_link"]

    # Typed, so that an empty split still has string columns (feedback pairs are appended to it later).
    features = Features({column: Value("string") for column in columns})

    def as_dataset(samples: list) -> Dataset:  # type: ignore[type-arg]
        rows = [sample.model_dump(mode="json") for sample in samples]
        return Dataset.from_dict(
            {column: [row[column] for row in rows] for column in columns}, features=features
        )

    return DatasetDict({"train": as_dataset(dataset.train), "test": as_dataset(dataset.test)})


def from_dataset_dict(
    datasets: DatasetDict, dataset_type: DatasetType
) -> InstructDataset | PreferenceDataset:
    """The domain dataset of a DatasetDict `to_dataset_dict` wrote (extra columns are ignored)."""
    kind = InstructDataset if dataset_type is DatasetType.INSTRUCTION else PreferenceDataset
    sample = InstructSample if dataset_type is DatasetType.INSTRUCTION else PreferenceSample
    columns = [*COLUMNS[kind], "category", "source_link"]

    def samples(split: str) -> list:  # type: ignore[type-arg]
        rows = datasets[split] if split in datasets else []
        return [sample.model_validate({c: row[c] for c in columns}) for row in rows]

    return kind(train=samples("train"), test=samples("test"))


def export_dataset_dict(
    datasets: DatasetDict, folder: Path, file_format: Literal["jsonl", "parquet"]
) -> list[Path]:
    """Write each split to `folder/<split>.<format>`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for split, dataset in datasets.items():
        path = folder / f"{split}.{file_format}"
        if file_format == "jsonl":
            dataset.to_json(str(path), lines=True, force_ascii=False)
        else:
            dataset.to_parquet(str(path))
        written.append(path)
    return written


def push_to_hub(datasets: DatasetDict, dataset_id: str, publisher: HubPublisher) -> PublishedCommit:
    """Upload each split as `data/<split>-00000-of-00001.parquet`, the layout the Hub's viewer and
    `datasets.load_dataset(dataset_id)` read as splits, in one commit to a private dataset repository."""
    with tempfile.TemporaryDirectory(prefix="twin-dataset-") as folder:
        for split, dataset in datasets.items():
            dataset.to_parquet(str(Path(folder) / "data" / f"{split}-00000-of-00001.parquet"))
        published = publisher.publish_folder(
            Path(folder), HubRepo(dataset_id, "dataset"), f"Upload {', '.join(datasets)} splits from LLM Twin"
        )
    logger.info(
        "Pushed {} to {} (commit {})", published.repo_id, published.repo_url, published.commit_oid[:12]
    )
    return published


FEEDBACK_CATEGORY = "feedback"


def with_feedback(preference: DatasetDict, pairs: Sequence[FeedbackPreference]) -> DatasetDict:
    """The preference dataset with pairs from users' feedback appended to its train split, each traced back as
    `source_link` = `feedback:<trace id>[,<trace id>]` (the 👎 answer, then the 👍 one); the test split stays
    as generated, so evaluations still compare."""
    if not pairs:
        return preference
    train = preference["train"]
    rows = {name: list(train[name]) for name in train.column_names}
    for pair in pairs:
        new = {
            "prompt": pair.prompt,
            "chosen": pair.chosen,
            "rejected": pair.rejected,
            "category": FEEDBACK_CATEGORY,
            "source_link": f"feedback:{','.join(pair.trace_ids)}",
        }
        for name in rows:
            rows[name].append(new[name])
    return DatasetDict({**preference, "train": Dataset.from_dict(rows, features=train.features)})
