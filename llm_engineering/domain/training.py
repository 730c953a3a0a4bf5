"""Fine-tuning hyperparameters (declared once, here), training rows as chats, and what a run returns."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_engineering.domain.feedback import FeedbackRules
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT

Stage = Literal["sft", "dpo"]
STAGE_ORDER: tuple[Stage, ...] = ("sft", "dpo")
Message = dict[str, str]


class LoraSettings(BaseModel):
    """The low-rank adapter trained by the `lora` and `qlora` methods."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    r: int = Field(16, gt=0, description="Rank of the update matrices; higher learns more and costs more.")
    alpha: int = Field(32, gt=0, description="Scale of the update; the effective scale is alpha / r.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter's input during training.")
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        min_length=1,
        description="Names of the linear layers that get an adapter (the attention projections by default).",
    )


class StageSettings(BaseModel):
    """Optimisation settings of one training stage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learning_rate: float = Field(gt=0, description="Peak learning rate of AdamW.")
    epochs: float = Field(
        1.0, gt=0, description="Passes over the train split; ignored when max_steps is set."
    )
    max_steps: int | None = Field(
        None, gt=0, description="Optimizer steps to run, overriding epochs; set it for short trial runs."
    )
    per_device_batch_size: int = Field(2, gt=0, description="Rows per forward pass on each device.")
    gradient_accumulation_steps: int = Field(
        4, gt=0, description="Forward passes summed into one optimizer step (effective batch multiplier)."
    )
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of the steps spent ramping the rate up.")
    eval_steps: int = Field(
        50, gt=0, description="Optimizer steps between two evaluations on the test split."
    )
    early_stopping_patience: int | None = Field(
        None,
        gt=0,
        description="Evaluations without a lower eval loss before stopping; unset trains to the end.",
    )


class TrainingConfig(BaseModel):
    """Everything a fine-tuning run needs besides its data: SFT on instructions, then DPO on preferences."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["lora", "qlora", "full"] = Field(
        "lora",
        description="lora: adapter on a frozen base; qlora: adapter on a 4-bit base (CUDA); full: all.",
    )
    backend: Literal["trl", "unsloth"] = Field(
        "trl", description="trl runs anywhere; unsloth needs a CUDA GPU and the unsloth package."
    )
    use_feedback: bool = Field(
        True,
        description="Add the users' 👎 answers to the DPO train split as preference pairs (chosen = their "
        "correction, else a 👍 answer to the same question; rejected = the answer), as `feedback` allows.",
    )
    feedback: FeedbackRules = Field(
        default_factory=FeedbackRules,
        description="What feedback a run may learn from: a minimum count, caps per client and question.",
    )
    stages: list[Stage] = Field(
        default_factory=lambda: list(STAGE_ORDER), description="Stages to run, in order: sft, dpo or both."
    )
    base_model_dir: Path | None = Field(
        None,
        description="Hugging Face model folder to start from; unset uses the local SmolLM2-135M-Instruct.",
    )
    max_length: int = Field(
        512, gt=0, description="Longest tokenized sequence; with packing, the block size."
    )
    packing: bool = Field(True, description="Pack several SFT samples into one sequence to avoid padding.")
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass: less memory, about 20% slower."
    )
    group_by_length: bool = Field(
        False,
        description="Batch SFT rows of like length together (shuffled by batch), so that little of a batch "
        "is padding; the cheaper alternative to packing on a CPU. DPO keeps a random order.",
    )
    seed: int = Field(42, description="Seed of adapter initialisation, data order and dropout.")
    lora: LoraSettings = Field(default_factory=LoraSettings, description="Adapter shape (lora and qlora).")
    sft: StageSettings = Field(
        default_factory=lambda: StageSettings(learning_rate=2e-4, epochs=1),
        description="Supervised fine-tuning on the instruction dataset.",
    )
    dpo: StageSettings = Field(
        default_factory=lambda: StageSettings(learning_rate=5e-6, epochs=1),
        description="Direct preference optimisation on the preference dataset.",
    )
    dpo_beta: float = Field(
        0.1, gt=0, description="How far DPO may move from the SFT model; lower lets it move further."
    )
    system_prompt: str = Field(
        TWIN_SYSTEM_PROMPT, description="System message of every training conversation, as served."
    )

    def stage_settings(self, stage: Stage) -> "StageSettings":
        """The settings of one stage: `sft` or `dpo`."""
        return self.sft if stage == "sft" else self.dpo

    @field_validator("stages")
    @classmethod
    def _stages_in_order(cls, stages: list[Stage]) -> list[Stage]:
        if not stages:
            raise ValueError("stages is empty; list sft, dpo or both, e.g. [sft, dpo].")
        if len(set(stages)) != len(stages):
            raise ValueError(f"stages {stages} repeats a stage; list each once.")
        if stages != sorted(stages, key=STAGE_ORDER.index):
            raise ValueError(f"stages {stages} are out of order; DPO starts from the SFT model: [sft, dpo].")
        return stages


def instruct_to_messages(instruction: str, output: str, system_prompt: str) -> dict[str, list[Message]]:
    """An instruction row as the conversation the model is served in, answered by the author's text.

    Texts are stripped: the served prompt ends where the answer begins, and leading whitespace in an answer
    would merge with the template's last newline into another token than serving feeds the model.
    """
    return {
        "messages": [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": instruction.strip()},
            {"role": "assistant", "content": output.strip()},
        ]
    }


def preference_to_conversation(
    prompt: str, chosen: str, rejected: str, system_prompt: str
) -> dict[str, list[Message]]:
    """A preference row as a shared served prompt and two competing assistant turns, stripped (see
    `instruct_to_messages`)."""
    return {
        "prompt": [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt.strip()}],
        "chosen": [{"role": "assistant", "content": chosen.strip()}],
        "rejected": [{"role": "assistant", "content": rejected.strip()}],
    }


class LossPoint(BaseModel):
    """One logged optimizer step (or evaluation) of a stage."""

    model_config = ConfigDict(frozen=True)

    stage: Stage
    step: int = Field(ge=0)
    loss: float | None = Field(None, description="Train loss at this step; None on evaluation-only entries.")
    learning_rate: float | None = None
    eval_loss: float | None = None


class StageSummary(BaseModel):
    """How one stage went."""

    model_config = ConfigDict(frozen=True)

    steps: int = Field(ge=0, description="Optimizer steps run.")
    first_loss: float = Field(description="Train loss of the first logged step.")
    last_loss: float = Field(description="Train loss of the last logged step.")
    min_loss: float = Field(description="Lowest logged train loss.")
    eval_loss: float | None = Field(
        None, description="Eval loss of the weights the stage kept; None without a test split."
    )
    seconds: float = Field(ge=0, description="Wall time of the training loop, evaluations included.")
    tokens_per_second: float = Field(ge=0, description="Non-padding train tokens seen per second.")
    metrics: dict[str, float] = Field(
        default_factory=dict,
        description="Last logged value of the trainer's other metrics (DPO rewards, token accuracy…).",
    )


class TrainingResult(BaseModel):
    """Where the trained model went and how training went."""

    model_config = ConfigDict(frozen=True)

    model_dir: str = Field(description="Merged model with tokenizer and chat template, ready to serve.")
    adapter_dir: str | None = Field(None, description="The LoRA adapter alone; None for full fine-tuning.")
    stages: dict[str, StageSummary]
    loss_history: list[LossPoint]
