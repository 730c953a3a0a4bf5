"""The README.md card pushed with a merged model: Hub metadata up top, then how the model was made."""

from collections.abc import Mapping
from typing import Any

import yaml

STAGE_NAMES = {
    "sft": "supervised fine-tuning on the instruction dataset",
    "dpo": "DPO on the preference dataset",
}


def model_card(
    repo_id: str,
    version: str,
    method: str,
    stages: Mapping[str, Mapping[str, Any]],
    metrics: Mapping[str, Any],
    system_prompt: str,
) -> str:
    """A card for `repo_id`: YAML front matter the Hub reads, the training stages and any evaluation metrics.

    `stages` maps a stage name to its summary (steps, first_loss, last_loss, eval_loss…), as the training
    step logs it; `metrics` holds what the evaluation logged on the version (judge_score, rouge_l, bleu).
    """
    front = {
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["llm-twin", "trl", *stages],
    }
    lines = [
        f"---\n{yaml.safe_dump(front, sort_keys=False)}---",
        "",
        f"# {repo_id.split('/')[-1]}",
        "",
        f"An LLM Twin: a language model fine-tuned on one author's writing ({method}, merged into the base "
        f"weights). Registry version `{version}`.",
        "",
        "## Training",
        "",
        "| stage | what | steps | train loss (first → last) | eval loss |",
        "|---|---|---|---|---|",
    ]
    for stage, summary in stages.items():
        eval_loss = summary.get("eval_loss")
        lines.append(
            f"| {stage} | {STAGE_NAMES.get(stage, stage)} | {summary.get('steps', '?')} | "
            f"{_number(summary.get('first_loss'))} → {_number(summary.get('last_loss'))} | "
            f"{_number(eval_loss) if eval_loss is not None else '—'} |"
        )
    if metrics:
        lines += ["", "## Evaluation", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {_number(value)} |" for name, value in metrics.items()]
    lines += [
        "",
        "## Use",
        "",
        "Load it with `transformers` (`AutoModelForCausalLM.from_pretrained`) and prompt it through its chat "
        "template with the system message it was trained with:",
        "",
        *(f"> {line}" if line else ">" for line in system_prompt.splitlines()),
        "",
    ]
    return "\n".join(lines)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
