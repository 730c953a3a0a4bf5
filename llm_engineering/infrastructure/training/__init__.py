"""Fine-tuning with TRL and PEFT (or Unsloth on CUDA): SFT then DPO; LoRA, QLoRA or full; merged to serve."""
