"""Loading the base model and tokenizer for training, with the adapter or quantization its method asks for."""

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.training import TrainingConfig
from llm_engineering.infrastructure.llm.local.model import ensure_local_model, is_model_dir


@dataclass(frozen=True)
class Precision:
    """Where training runs and in which float format."""

    cuda: bool
    dtype: Any  # torch.dtype; typed loosely so that importing this module does not import torch
    bf16_autocast: bool


def check_hardware(config: TrainingConfig) -> None:
    """Refuse, before anything is loaded, a method or backend this machine cannot run."""
    import torch

    cuda = torch.cuda.is_available()
    if config.backend == "unsloth" and not cuda:
        raise TwinError("The unsloth backend needs a CUDA GPU; use backend: trl on CPU.")
    if config.backend == "unsloth" and importlib.util.find_spec("unsloth") is None:
        raise TwinError(
            "The unsloth backend needs the unsloth package; pip install unsloth, or use backend: trl."
        )
    if config.method == "qlora" and not cuda:
        raise TwinError("QLoRA needs a CUDA GPU and bitsandbytes; use method: lora on CPU")
    if config.method == "qlora" and importlib.util.find_spec("bitsandbytes") is None:
        raise TwinError("QLoRA needs bitsandbytes; pip install bitsandbytes, or use method: lora.")


def precision_for(config: TrainingConfig) -> Precision:
    """float32 on CPU; on a bf16-capable GPU, bf16 weights under a frozen base, fp32 masters for full."""
    import torch

    if not torch.cuda.is_available():
        return Precision(cuda=False, dtype=torch.float32, bf16_autocast=False)
    bf16 = torch.cuda.is_bf16_supported()
    # Full fine-tuning keeps fp32 master weights (AdamW steps are lost in bf16) and autocasts the math.
    frozen_base = config.method != "full"
    dtype = torch.bfloat16 if bf16 and frozen_base else torch.float32
    return Precision(cuda=True, dtype=dtype, bf16_autocast=bf16)


def resolve_base_dir(config: TrainingConfig, default_base_dir: Path) -> Path:
    """The configured base model folder, or the local SmolLM2 converted into `default_base_dir`."""
    if config.base_model_dir is None:
        return ensure_local_model(default_base_dir)
    if not is_model_dir(config.base_model_dir):
        raise TwinError(
            f"No model in {config.base_model_dir}; point base_model_dir at a save_pretrained folder "
            "or leave it unset to train the local SmolLM2."
        )
    return config.base_model_dir


def load_tokenizer(base_dir: Path) -> Any:
    """The base model's tokenizer, set up for training: a pad token and right padding."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if not tokenizer.chat_template:
        raise TwinError(f"The tokenizer in {base_dir} has no chat template; training renders conversations.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def load_model(config: TrainingConfig, base_dir: Path, precision: Precision) -> Any:
    """The base model on the training device; 4-bit and prepared for k-bit training for qlora."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    options: dict[str, Any] = {"dtype": precision.dtype}
    if config.method == "qlora":
        options["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if precision.bf16_autocast else torch.float16,
        )
        options["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(base_dir, **options)
    if config.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    elif precision.cuda:
        model = model.to("cuda")
    if config.method == "full":
        model.requires_grad_(True)
    logger.info("Loaded {} ({}) for {} training", base_dir, precision.dtype, config.method)
    return model


def lora_config(config: TrainingConfig) -> Any:
    """PEFT's description of the adapter set in the config."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=list(config.lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


def load_unsloth_model(config: TrainingConfig, base_dir: Path) -> tuple[Any, Any]:
    """Model (with its adapter unless full) and tokenizer through Unsloth's patched kernels; CUDA only.

    Not exercised by the test suite, which runs without a GPU; check_hardware guards it.
    """
    # Imported here only: unsloth patches transformers on import and fails on machines without CUDA.
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(base_dir),
        max_seq_length=config.max_length,
        dtype=None,  # Unsloth picks bf16 where the GPU supports it
        load_in_4bit=config.method == "qlora",
        full_finetuning=config.method == "full",
    )
    if config.method != "full":
        model = FastLanguageModel.get_peft_model(
            model,
            r=config.lora.r,
            lora_alpha=config.lora.alpha,
            lora_dropout=config.lora.dropout,
            target_modules=list(config.lora.target_modules),
            use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
            random_state=config.seed,
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return model, tokenizer
