"""Continuous training's use cases: plan a refresh from the stores, and refresh a dataset incrementally."""

from collections.abc import Mapping, Sequence

from loguru import logger

from llm_engineering.application.datasets import DatasetConfig, GenerationReport, generate_dataset
from llm_engineering.application.ports import ChatModel
from llm_engineering.domain import datasets as ds
from llm_engineering.domain.dataset_quality import NearDuplicateFinder
from llm_engineering.domain.features import CleanedDocument
from llm_engineering.domain.feedback import FeedbackRules, RatedAnswer, pair_feedback
from llm_engineering.domain.refresh import (
    MergeReport,
    RefreshConfig,
    RefreshPlan,
    SourceChanges,
    decide,
    merge_refreshed,
    source_changes,
)
from llm_engineering.domain.registry import Key, ModelVersion


def sources(documents: Sequence[CleanedDocument]) -> dict[str, str]:
    """Each document's link and the hash of its content."""
    return {document.link: document.content_hash for document in documents}


def trained_feedback_traces(versions: Sequence[ModelVersion]) -> set[str]:
    """Every feedback trace any version learned from."""
    traces: set[str] = set()
    for version in versions:
        report = version.metadata.get(Key.FEEDBACK_PAIRS) or {}
        traces.update(report.get("trace_ids", []) if isinstance(report, Mapping) else [])
    return traces


def newest_trained(versions: Sequence[ModelVersion]) -> ModelVersion | None:
    """The newest version that finished training (it logged its model folder; a failed run's did not)."""
    return max((v for v in versions if v.model_dir is not None), key=lambda v: v.number, default=None)


def datasets_untrained(
    latest_datasets: Mapping[str, str], versions: Sequence[ModelVersion], new_train_rows: int | None = None
) -> bool:
    """Whether the newest trained version (one that logged its model folder; a failed run's version did not)
    learned from other datasets than the latest ones. A version that did not record its datasets counts as
    trained on them; datasets a refresh merged without adding a train row (`new_train_rows` 0: documents
    removed, or every new sample dropped) hold nothing to learn."""
    if not latest_datasets or new_train_rows == 0:  # a refresh that added no train row: nothing to learn
        return False
    newest = newest_trained(versions)
    if newest is None:
        return True
    trained = newest.metadata.get(Key.DATASETS)
    if not isinstance(trained, Mapping):
        return False
    return any(trained.get(name) != artifact_id for name, artifact_id in latest_datasets.items())


def plan_refresh(
    current: Sequence[CleanedDocument],
    previous: Sequence[CleanedDocument] | None,
    latest_datasets: Mapping[str, str],
    versions: Sequence[ModelVersion],
    production: ModelVersion | None,
    rated: Sequence[RatedAnswer],
    rules: FeedbackRules | None,
    config: RefreshConfig,
    *,
    previous_preference: Sequence[CleanedDocument] | None,
    new_train_rows: int | None = None,
) -> RefreshPlan:
    """What this run does. `previous` and `previous_preference` hold the documents the latest instruction and
    preference datasets were built from (None: there are none, or they did not record them; the two are
    built by separate runs, so they may differ); `latest_datasets` names those datasets' artifact versions;
    `rules` is None when training does not use feedback; `new_train_rows` is what a refresh that merged the
    latest datasets added to their train splits (None: they were not merged by a refresh)."""
    current_sources = sources(current)
    changes = source_changes(sources(previous or []), current_sources)
    preference_changes = source_changes(sources(previous_preference or []), current_sources)
    new_traces: list[str] = []
    new_pairs = 0
    if rules is not None:
        pairs, _ = pair_feedback(list(rated), rules)
        trained = trained_feedback_traces(versions)
        fresh = [pair for pair in pairs if not trained.issuperset(pair.trace_ids)]
        new_pairs = len(fresh)
        new_traces = list(dict.fromkeys(t for pair in fresh for t in pair.trace_ids if t not in trained))
    production_dir = production.model_dir if production else None
    newest = newest_trained(versions)
    plan = decide(
        changes,
        len(current),
        first_datasets=previous is None,
        untrained_datasets=datasets_untrained(latest_datasets, versions, new_train_rows),
        new_feedback_traces=new_traces,
        new_feedback_pairs=new_pairs,
        production=(production.number, str(production_dir)) if production and production_dir else None,
        config=config,
        preference_changes=preference_changes,
        production_is_newest=production is None or newest is None or production.number >= newest.number,
        feedback_used=rules is not None,
    )
    logger.info("Refresh plan: {}", plan.summary)
    return plan


def refresh_dataset(
    documents: Sequence[CleanedDocument],
    changes: SourceChanges,
    previous: ds.InstructDataset | ds.PreferenceDataset | None,
    chat: ChatModel,
    dataset_type: ds.DatasetType,
    config: DatasetConfig,
    near_duplicates: NearDuplicateFinder,
    ngram: int,
) -> tuple[
    ds.InstructDataset | ds.PreferenceDataset,
    list[ds.InstructSample] | list[ds.PreferenceSample],
    GenerationReport,
    MergeReport,
]:
    """Samples for the new and changed documents only, merged into `previous` (whose samples of changed or
    removed documents go); returns the merged dataset, the new train samples in it, and both reports."""
    wanted = set(changes.to_generate)
    changed_documents = [d for d in documents if d.link in wanted]
    empty: ds.InstructDataset | ds.PreferenceDataset = (
        ds.InstructDataset(train=[], test=[])
        if dataset_type is ds.DatasetType.INSTRUCTION
        else ds.PreferenceDataset(train=[], test=[])
    )
    fresh, generation = (
        generate_dataset(changed_documents, chat, dataset_type, config, near_duplicates)
        if changed_documents
        else (empty, GenerationReport())
    )
    merged, new_train, merge = merge_refreshed(previous, fresh, changes.stale, ngram)  # type: ignore[type-var]
    logger.info(
        "{} dataset: {} earlier samples kept, {} stale dropped, {} added, {} duplicates, {} contaminated",
        dataset_type,
        merge.kept,
        merge.stale,
        merge.added,
        merge.duplicates,
        merge.contaminated,
    )
    return merged, new_train, generation, merge
