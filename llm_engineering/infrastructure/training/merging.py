"""Saving a trained model for serving: the adapter alone, and the adapter merged into its base."""

from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.infrastructure.training.models import Precision

ADAPTER = "default"  # the adapter PEFT creates and TRL trains; DPO adds a frozen "ref" copy beside it


def save_full(model: Any, tokenizer: Any, model_dir: Path) -> None:
    """Save a fully fine-tuned model and its tokenizer (with the chat template) as safetensors."""
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    logger.info("Saved the fine-tuned model to {}", model_dir)


def save_adapter_and_merged(
    model: Any, tokenizer: Any, base_dir: Path, output_dir: Path, precision: Precision
) -> tuple[Path, Path]:
    """Save the trained adapter, then the base with it folded in; returns (model_dir, adapter_dir)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter_dir, model_dir = output_dir / "adapter", output_dir / "model"
    model.save_pretrained(adapter_dir, selected_adapters=[ADAPTER])
    tokenizer.save_pretrained(adapter_dir)
    # Merge into a freshly loaded base rather than the training copy: a QLoRA base is 4-bit and merging
    # into it would round the update away, and reloading also proves the saved adapter is complete.
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=precision.dtype)
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged.generation_config.pad_token_id = tokenizer.pad_token_id
    merged.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    logger.info("Saved the adapter to {} and the merged model to {}", adapter_dir, model_dir)
    return model_dir, adapter_dir
