"""The local model: a Hugging Face causal LM run in-process, converted from the bundled GGUF on first use."""
