"""A merged model on the Hub: its README.md card (Hub metadata, then how it was made) and the push itself."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llm_engineering.infrastructure.hub import HubPublisher, HubRepo, PublishedCommit

STAGE_NAMES = {
    "sft": "supervised fine-tuning on the instruction dataset",
    "dpo": "DPO on the preference dataset",
}


@dataclass(frozen=True)
class ModelCard:
    """What the card says about one registered version of the twin.

    `stages` maps a stage name to its summary (steps, first_loss, last_loss, eval_loss…), as the training
    step logs it; `metrics` holds what the evaluation logged on the version (judge score, reference metrics,
    retrieval); `system_prompt` is None for a version whose run did not log it, and the card then names none.
    """

    version: str
    method: str
    stages: Mapping[str, Mapping[str, Any]]
    system_prompt: str | None
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def render(self, repo_id: str) -> str:
        """The README.md: YAML front matter the Hub reads, the training stages, any metrics, how to prompt."""
        front: dict[str, Any] = {
            "library_name": "transformers",
            "pipeline_tag": "text-generation",
            "tags": ["llm-twin", "trl", *self.stages],
        }
        lines = [
            f"---\n{yaml.safe_dump(front, sort_keys=False)}---",
            "",
            f"# {repo_id.split('/')[-1]}",
            "",
            f"An LLM Twin: a language model fine-tuned on one author's writing ({self.method}, merged into "
            f"the base weights). Registry version `{self.version}`.",
            "",
            "## Training",
            "",
            "| stage | what | steps | train loss (first → last) | eval loss |",
            "|---|---|---|---|---|",
            *(_stage_row(stage, summary) for stage, summary in self.stages.items()),
        ]
        if self.metrics:
            lines += ["", "## Evaluation", "", "| metric | value |", "|---|---|"]
            lines += [f"| {name} | {_number(value)} |" for name, value in self.metrics.items()]
        use = (
            "Load it with `transformers` (`AutoModelForCausalLM.from_pretrained`) and prompt it through its "
            "chat template"
        )
        lines += ["", "## Use", ""]
        if self.system_prompt is None:
            lines.append(f"{use}.")
        else:
            quoted = [f"> {line}" if line else ">" for line in self.system_prompt.splitlines()]
            lines += [f"{use} with the system message it was trained with:", "", *quoted]
        return "\n".join([*lines, ""])


def publish_model(
    publisher: HubPublisher, model_dir: Path, repo: HubRepo, card: ModelCard
) -> PublishedCommit:
    """Push the merged model folder with its rendered card as README.md, in one commit."""
    return publisher.publish_folder(
        model_dir,
        repo,
        f"LLM Twin version {card.version}",
        extra_files={"README.md": card.render(repo.repo_id).encode()},
    )


def _stage_row(stage: str, summary: Mapping[str, Any]) -> str:
    eval_loss = summary.get("eval_loss")
    return (
        f"| {stage} | {STAGE_NAMES.get(stage, stage)} | {summary.get('steps', '?')} | "
        f"{_number(summary.get('first_loss'))} → {_number(summary.get('last_loss'))} | "
        f"{_number(eval_loss) if eval_loss is not None else '—'} |"
    )


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
