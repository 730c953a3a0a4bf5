"""CTranslate2 files of a local model folder: converted once, cached beside it, keyed by its content.

A folder `model` gets `model.ct2-int8-<digest>` next to it, where the digest covers every file of the
folder, so a retrained model in the same place is converted again and an unchanged one never is. The
conversion writes to a temporary folder that is renamed into place when complete: a half-written
conversion is never found.
"""

import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from loguru import logger

from llm_engineering.domain.exceptions import TwinError

QUANTIZATION = "int8"
ENGINE_MARKER = "model.bin"  # written last by the converter, so its presence means a whole model


def content_digest(model_dir: Path) -> str:
    """sha256 over the names and bytes of every file of the folder, in name order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def engine_dir_for(model_dir: Path) -> Path:
    """Where the engine files of `model_dir`, as it is now, live (they may not exist yet)."""
    return model_dir.parent / f"{model_dir.name}.ct2-{QUANTIZATION}-{content_digest(model_dir)[:16]}"


def ensure_engine_files(model_dir: Path) -> Path:
    """The CTranslate2 folder of the model in `model_dir`, converted on first use."""
    if not (model_dir / "config.json").is_file():
        raise TwinError(f"No model to convert in {model_dir}: it holds no config.json.")
    target = engine_dir_for(model_dir)
    if (target / ENGINE_MARKER).is_file():
        return target
    import ctranslate2

    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=model_dir.parent))
    try:
        converter = ctranslate2.converters.TransformersConverter(str(model_dir))
        converter.convert(str(staging), quantization=QUANTIZATION, force=True)
        staging.rename(target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if (target / ENGINE_MARKER).is_file():  # another process finished the same conversion first
            return target
        raise TwinError(f"Could not write the engine files of {model_dir} to {target} ({error}).") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info(
        "Converted {} for CTranslate2 ({}) in {:.1f} s",
        model_dir,
        QUANTIZATION,
        time.perf_counter() - started,
    )
    return target
