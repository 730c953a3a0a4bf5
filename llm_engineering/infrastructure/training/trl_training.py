"""SFT then DPO with TRL on one model, saved merged for serving, with the loss history of both stages."""

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import DatasetDict
from loguru import logger

from llm_engineering.domain.training import (
    LossPoint,
    Stage,
    StageSummary,
    TrainingConfig,
    TrainingResult,
)
from llm_engineering.infrastructure.training.conversations import eval_split, to_conversations
from llm_engineering.infrastructure.training.history import loss_points, summarize
from llm_engineering.infrastructure.training.merging import save_adapter_and_merged, save_full
from llm_engineering.infrastructure.training.models import (
    Precision,
    check_hardware,
    load_model,
    load_tokenizer,
    load_unsloth_model,
    lora_config,
    precision_for,
    resolve_base_dir,
)


@dataclass(frozen=True)
class _Run:
    """What every stage of one run shares."""

    config: TrainingConfig
    tokenizer: Any
    output_dir: Path
    precision: Precision
    report_to: tuple[str, ...] = ()


def train(
    config: TrainingConfig,
    instruct: DatasetDict,
    preference: DatasetDict | None,
    output_dir: Path,
    default_base_dir: Path,
    report_to: Sequence[str] = (),
) -> TrainingResult:
    """Run the configured stages on one model and save it to `output_dir/model` (and `/adapter` for LoRA).

    `default_base_dir` is where the local SmolLM2 is converted when `config.base_model_dir` is unset;
    `report_to` names the trainer integrations that also get the logs (e.g. "comet_ml").
    """
    check_hardware(config)
    datasets = to_conversations(config, instruct, preference)
    base_dir = resolve_base_dir(config, default_base_dir)
    precision = precision_for(config)
    if config.backend == "unsloth":
        model, tokenizer = load_unsloth_model(config, base_dir)
    else:
        model, tokenizer = load_model(config, base_dir, precision), load_tokenizer(base_dir)
    run = _Run(config, tokenizer, output_dir, precision, tuple(report_to))
    # TRL wraps the model in the adapter on the first stage; later stages keep training that same adapter.
    peft_config = lora_config(config) if config.method != "full" and config.backend == "trl" else None
    history: list[LossPoint] = []
    summaries: dict[str, StageSummary] = {}
    for stage in config.stages:
        trainer = _trainer(stage, run, model, datasets[stage], peft_config)
        model, points, summaries[stage] = _run(stage, trainer)
        history += points
        peft_config = None
    if config.method == "full":
        model_dir, adapter_dir = output_dir / "model", None
        save_full(model, tokenizer, model_dir)
    else:
        model_dir, adapter_dir = save_adapter_and_merged(model, tokenizer, base_dir, output_dir, precision)
    return TrainingResult(
        model_dir=str(model_dir),
        adapter_dir=None if adapter_dir is None else str(adapter_dir),
        stages=summaries,
        loss_history=history,
    )


def _arguments(stage: Stage, run: _Run, evaluates: bool) -> dict[str, Any]:
    """TrainingArguments shared by both stages, from that stage's settings."""
    config = run.config
    settings = config.stage_settings(stage)
    stopping = settings.early_stopping_patience is not None
    return {
        "output_dir": str(run.output_dir / f"checkpoints-{stage}"),
        "learning_rate": settings.learning_rate,
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps or -1,
        "per_device_train_batch_size": settings.per_device_batch_size,
        "per_device_eval_batch_size": settings.per_device_batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "warmup_steps": settings.warmup_ratio,  # a float below 1 is a share of the steps in transformers 5
        "eval_strategy": "steps" if evaluates else "no",
        "eval_steps": settings.eval_steps,
        # Early stopping restores the best evaluation's weights, so it needs a checkpoint at each one.
        "save_strategy": "steps" if stopping else "no",
        "save_steps": settings.eval_steps,
        "save_total_limit": 1 if stopping else None,
        "save_only_model": True,  # checkpoints only serve to restore the best weights, never to resume
        "load_best_model_at_end": stopping,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
        "gradient_checkpointing": config.gradient_checkpointing,
        "seed": config.seed,
        "use_cpu": not run.precision.cuda,
        "bf16": run.precision.bf16_autocast,
        "logging_steps": 1,
        "report_to": list(run.report_to) or "none",
        "run_name": f"{run.output_dir.name}-{stage}",
        "max_length": config.max_length,
        # DPO rows are pairs without one length to sort by: only SFT batches by length.
        "train_sampling_strategy": "group_by_length"
        if config.group_by_length and stage == "sft"
        else "random",
    }


def _trainer(stage: Stage, run: _Run, model: Any, splits: DatasetDict, peft_config: Any) -> Any:
    """The TRL trainer of one stage, with early stopping when the stage asks for it."""
    from transformers import EarlyStoppingCallback
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    evaluation = eval_split(splits)
    config = run.config
    arguments = _arguments(stage, run, evaluation is not None)
    patience = config.stage_settings(stage).early_stopping_patience
    common = {
        "model": model,
        "train_dataset": splits["train"],
        "eval_dataset": evaluation,
        "processing_class": run.tokenizer,
        "peft_config": peft_config,
        "callbacks": [EarlyStoppingCallback(patience)] if patience else [],
    }
    if stage == "sft":
        # TRL packs with best-fit decreasing and feeds the packed rows without padding; position_ids that
        # restart at each sample make transformers mask attention per sample, also in SDPA on CPU.
        return SFTTrainer(args=SFTConfig(**arguments, packing=config.packing), **common)
    # With an adapter and no ref_model, TRL freezes a copy of the trained adapter as the reference, so the
    # reference is the SFT model. Full fine-tuning needs its own frozen copy of the SFT weights.
    reference = None if peft_config is not None or _has_adapter(model) else _frozen_copy(model)
    return DPOTrainer(ref_model=reference, args=DPOConfig(**arguments, beta=config.dpo_beta), **common)


def _has_adapter(model: Any) -> bool:
    return hasattr(model, "peft_config")


def _frozen_copy(model: Any) -> Any:
    """A separate model holding the current weights, frozen, as the DPO reference of full fine-tuning."""
    from transformers import AutoModelForCausalLM

    # Built from the config rather than deep-copied: the trainer patched the model's forward in place,
    # and a deep copy would share that patch's closure over the original model.
    reference = AutoModelForCausalLM.from_config(model.config, dtype=model.dtype)
    reference.load_state_dict(model.state_dict())
    return reference.to(model.device).eval().requires_grad_(False)


def _run(stage: Stage, trainer: Any) -> tuple[Any, list[LossPoint], StageSummary]:
    """Train one stage and read back what the trainer logged, with the eval loss of the weights it keeps."""
    logger.info("Starting {} on {} rows", stage, len(trainer.train_dataset))
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    eval_loss = _final_eval_loss(trainer)
    checkpoints = Path(trainer.args.output_dir)
    if checkpoints.exists():
        shutil.rmtree(checkpoints)  # the kept weights are in the model now and get saved at the end
    history = trainer.state.log_history
    summary = summarize(history, trainer.state.global_step, seconds, eval_loss)
    logger.info(
        "{} done: {} steps in {:.1f} s, loss {:.3f} → {:.3f}, eval loss {}, {:.0f} tokens/s",
        stage,
        summary.steps,
        seconds,
        summary.first_loss,
        summary.last_loss,
        summary.eval_loss,
        summary.tokens_per_second,
    )
    return trainer.model, loss_points(stage, history), summary


def _final_eval_loss(trainer: Any) -> float | None:
    if trainer.eval_dataset is None:
        return None
    if trainer.args.load_best_model_at_end:
        return float(trainer.state.best_metric)  # early stopping restored the weights that scored this
    evaluations = [entry for entry in trainer.state.log_history if "eval_loss" in entry]
    if evaluations and evaluations[-1]["step"] == trainer.state.global_step:
        return float(evaluations[-1]["eval_loss"])
    return float(trainer.evaluate()["eval_loss"])
