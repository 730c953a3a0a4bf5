"""The instruction and preference datasets as the chats each training stage reads, checked before training."""

from datasets import Dataset, DatasetDict

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.training import (
    Stage,
    TrainingConfig,
    instruct_to_messages,
    preference_to_conversation,
)


def to_conversations(
    config: TrainingConfig, instruct: DatasetDict, preference: DatasetDict | None
) -> dict[Stage, DatasetDict]:
    """Each configured stage's splits in TRL's conversational format, under the served system prompt."""
    if "dpo" in config.stages and preference is None:
        raise TwinError("The dpo stage needs a preference dataset; pass one or set stages: [sft].")
    prompt = config.system_prompt
    converted: dict[Stage, DatasetDict] = {}
    if "sft" in config.stages:
        converted["sft"] = instruct.map(
            lambda row: instruct_to_messages(row["instruction"], row["output"], prompt),
            remove_columns=instruct["train"].column_names,
        )
    if "dpo" in config.stages and preference is not None:
        converted["dpo"] = preference.map(
            lambda row: preference_to_conversation(row["prompt"], row["chosen"], row["rejected"], prompt),
            remove_columns=preference["train"].column_names,
        )
    for stage, splits in converted.items():
        _check_splits(stage, config, splits)
    return converted


def eval_split(splits: DatasetDict) -> Dataset | None:
    """The test split, or None when there is none or it is empty."""
    test = splits.get("test")
    return test if test is not None and len(test) > 0 else None


def _check_splits(stage: Stage, config: TrainingConfig, splits: DatasetDict) -> None:
    # Checked before any model is loaded, so a bad dataset fails in a second rather than a minute.
    if "train" not in splits or len(splits["train"]) == 0:
        raise TwinError(f"The {stage} train split is empty; generate the dataset first.")
    patience = config.stage_settings(stage).early_stopping_patience
    if patience is not None and eval_split(splits) is None:
        raise TwinError(f"early_stopping_patience needs a non-empty {stage} test split to evaluate on.")
