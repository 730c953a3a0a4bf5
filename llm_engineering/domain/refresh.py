"""Continuous training's decisions: what changed since the twin last learned, and what a refresh does.

A refresh compares three things with what the registry's newest version was trained on: the author's
documents in the feature store (against those the latest datasets were built from), the latest datasets
(against those the newest version was trained on) and the users' feedback (against the traces any version
already learned from). Nothing new means nothing to do.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.dataset_split import decontaminate
from llm_engineering.domain.datasets import (
    InstructDataset,
    InstructSample,
    PreferenceDataset,
    PreferenceSample,
)

S = TypeVar("S", InstructSample, PreferenceSample)
D = TypeVar("D", InstructDataset, PreferenceDataset)


NEW_TRAIN_ROWS = "new_train_rows"
"""Metadata key on a dataset a refresh merged: how many train rows it added."""


class SourceChanges(BaseModel):
    """Documents by link, compared with those the latest datasets were built from."""

    model_config = ConfigDict(frozen=True)

    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.new or self.changed or self.removed)

    @property
    def to_generate(self) -> tuple[str, ...]:
        """Links whose passages need new samples."""
        return (*self.new, *self.changed)

    @property
    def stale(self) -> frozenset[str]:
        """Links whose earlier samples no longer match the author's text."""
        return frozenset((*self.changed, *self.removed))


def source_changes(previous: Mapping[str, str], current: Mapping[str, str]) -> SourceChanges:
    """What differs between two `link → content hash` maps, each list sorted."""
    return SourceChanges(
        new=tuple(sorted(current.keys() - previous.keys())),
        changed=tuple(
            sorted(link for link in current.keys() & previous.keys() if current[link] != previous[link])
        ),
        removed=tuple(sorted(previous.keys() - current.keys())),
    )


class StartFrom(StrEnum):
    """What a refresh trains: the production model on what is new, or the base model on everything."""

    PRODUCTION = "production"
    BASE = "base"


class RefreshConfig(BaseModel):
    """How continuous training decides and trains."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_from: StartFrom = Field(
        StartFrom.PRODUCTION,
        description="production: continue from the production version, on the new samples and feedback only "
        "(fast; with no production version yet, the base model trains on everything). base: train the base "
        "model on the whole merged datasets.",
    )
    min_new_feedback_pairs: int = Field(
        5, ge=1, description="New usable feedback pairs that start a DPO-only refresh on their own."
    )
    decontamination_ngram: int = Field(
        8, ge=1, description="Train samples sharing a word n-gram this long with a test sample are dropped."
    )


class RefreshPlan(BaseModel):
    """What one continuous-training run found new, and what it will do about it."""

    model_config = ConfigDict(frozen=True)

    changes: SourceChanges = Field(
        description="Documents against those the instruction dataset was built from."
    )
    preference_changes: SourceChanges = Field(description="The same against the preference dataset's.")
    documents: int = Field(ge=0, description="The author's documents in the feature store now.")
    first_datasets: bool = Field(description="No dataset existed yet: every document is new.")
    untrained_datasets: bool = Field(description="The latest datasets are newer than the newest version.")
    new_feedback_traces: tuple[str, ...] = Field(
        description="Traces of usable feedback no version learned from."
    )
    new_feedback_pairs: int = Field(0, ge=0)
    generate: bool = Field(description="Write samples for new and changed documents and merge them in.")
    stages: tuple[str, ...] = Field(description="Training stages to run; none means no training.")
    start_from_version: int | None = Field(
        description="The production version training continues from; None: the base model."
    )
    base_model_dir: str | None = Field(None, description="That version's merged model folder.")
    reasons: tuple[str, ...] = Field(description="Why, one line per finding.")

    @property
    def nothing_new(self) -> bool:
        return not (self.generate or self.stages)

    @property
    def summary(self) -> str:
        if self.nothing_new:
            return "Nothing new: " + "; ".join(self.reasons)
        start = f"version {self.start_from_version}" if self.start_from_version else "the base model"
        work = ("generate samples, " if self.generate else "") + (
            f"train {' → '.join(self.stages)} from {start}" if self.stages else "no training"
        )
        return f"{work}: " + "; ".join(self.reasons)


def decide(
    changes: SourceChanges,
    documents: int,
    first_datasets: bool,
    untrained_datasets: bool,
    new_feedback_traces: Sequence[str],
    new_feedback_pairs: int,
    production: tuple[int, str] | None,
    config: RefreshConfig,
    preference_changes: SourceChanges | None = None,
    production_is_newest: bool = True,
    feedback_used: bool = True,
) -> RefreshPlan:
    """The plan for one run. New or changed writing regenerates samples and trains SFT then DPO; datasets
    nobody trained on train SFT then DPO; enough new feedback alone trains DPO only.

    `changes` compares the documents with those the instruction dataset was built from, `preference_changes`
    (default: the same) with the preference dataset's. `production` is the production version's number and
    model folder: training continues from it when `config.start_from` says so and it is the newest trained
    version; after a version that was not promoted, production has not learnt what that one did, so the base
    model trains on everything."""
    preference_changes = changes if preference_changes is None else preference_changes
    reasons: list[str] = []
    if first_datasets:
        reasons.append(f"no datasets with recorded sources yet: samples for all {documents} documents")
    elif changes.any:
        reasons.append(_counts(changes))
    else:
        reasons.append(f"the {documents} documents are those the latest datasets were built from")
    if not first_datasets and preference_changes != changes and preference_changes.any:
        reasons.append(f"the preference dataset: {_counts(preference_changes)}")
    generate = first_datasets or changes.any or preference_changes.any
    if untrained_datasets:
        reasons.append("the latest datasets are newer than the newest model version")
    enough_feedback = feedback_used and new_feedback_pairs >= config.min_new_feedback_pairs
    if not feedback_used:
        reasons.append("feedback is not used (use_feedback is off or training has no DPO stage)")
    else:
        short = not enough_feedback and new_feedback_pairs
        reasons.append(
            f"{new_feedback_pairs} new feedback pairs"
            + (f" (fewer than {config.min_new_feedback_pairs})" if short else "")
        )
    if generate or untrained_datasets:
        stages: tuple[str, ...] = ("sft", "dpo")
    elif enough_feedback:
        stages = ("dpo",)
    else:
        stages = ()
    wants_production = bool(stages) and config.start_from is StartFrom.PRODUCTION
    continue_from = production if wants_production and production_is_newest else None
    if wants_production and production is None:
        reasons.append("no production version yet, so the base model trains on everything")
    elif wants_production and not production_is_newest:
        reasons.append(
            "the newest trained version is not production, so the base model trains on everything "
            "(production never learnt what that version did)"
        )
    return RefreshPlan(
        changes=changes,
        preference_changes=preference_changes,
        documents=documents,
        first_datasets=first_datasets,
        untrained_datasets=untrained_datasets,
        new_feedback_traces=tuple(new_feedback_traces),
        new_feedback_pairs=new_feedback_pairs,
        generate=generate,
        stages=stages,
        start_from_version=continue_from[0] if continue_from else None,
        base_model_dir=continue_from[1] if continue_from else None,
        reasons=tuple(reasons),
    )


def _counts(changes: SourceChanges) -> str:
    counts = (len(changes.new), len(changes.changed), len(changes.removed))
    return "{} new, {} changed, {} removed documents".format(*counts)


def stages_to_train(plan: RefreshPlan, configured: Sequence[str], rows: Mapping[str, int]) -> tuple[str, ...]:
    """The plan's stages that the training config runs and that have rows to learn from (`rows`: train rows
    per stage); DPO also learns from new feedback alone."""
    return tuple(
        stage
        for stage in plan.stages
        if stage in configured and (rows.get(stage, 0) or (stage == "dpo" and plan.new_feedback_pairs))
    )


class MergeReport(BaseModel):
    """How a refreshed dataset came together."""

    kept: int = Field(description="Earlier samples kept.")
    stale: int = Field(description="Earlier samples dropped: their document changed or is gone.")
    added: int = Field(description="New samples added, train and test.")
    duplicates: int = Field(description="New samples equal to one already there.")
    contaminated: int = Field(description="Train samples dropped for overlapping the test split.")


def merge_refreshed(
    previous: D | None, fresh: D, stale_links: frozenset[str], ngram: int
) -> tuple[D, list[InstructSample] | list[PreferenceSample], MergeReport]:
    """The earlier dataset without samples of stale links, plus the fresh samples, decontaminated as a whole
    (no train sample shares an n-gram with any test sample); and the fresh train samples that made it in."""
    old_train: list[Any] = [s for s in previous.train if s.source_link not in stale_links] if previous else []
    old_test: list[Any] = [s for s in previous.test if s.source_link not in stale_links] if previous else []
    total_before = len(previous.train) + len(previous.test) if previous else 0
    seen = {_key(s) for s in (*old_train, *old_test)}
    fresh_train: list[Any] = _unseen(fresh.train, seen)
    fresh_test: list[Any] = _unseen(fresh.test, seen)
    duplicates = len(fresh.train) + len(fresh.test) - len(fresh_train) - len(fresh_test)
    test = [*old_test, *fresh_test]
    train, contaminated = decontaminate([*old_train, *fresh_train], test, ngram)
    kept_ids = {id(s) for s in train}
    new_train = [s for s in fresh_train if id(s) in kept_ids]
    merged = type(fresh)(train=train, test=test)
    report = MergeReport(
        kept=len(old_train) + len(old_test),
        stale=total_before - len(old_train) - len(old_test),
        added=len(new_train) + len(fresh_test),
        duplicates=duplicates,
        contaminated=contaminated,
    )
    return merged, new_train, report


def _key(sample: InstructSample | PreferenceSample) -> tuple[str, ...]:
    return tuple(sample.texts().values())


def _unseen(samples: Sequence[S], seen: set[tuple[str, ...]]) -> list[S]:
    kept = []
    for sample in samples:
        if _key(sample) not in seen:
            seen.add(_key(sample))
            kept.append(sample)
    return kept
