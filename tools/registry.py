"""`models`: list the twin's versions, promote one, roll production back, or export one for local runtimes
(the registry is built by the composition root; see `llm_engineering/infrastructure/model_registry.py`)."""

import shlex
from pathlib import Path

import click

from llm_engineering.domain.exceptions import RegistryError
from llm_engineering.domain.generation import TWIN_SYSTEM_PROMPT
from llm_engineering.domain.registry import TWIN_MODEL_NAME, Key, Stage
from llm_engineering.infrastructure.llm.local.gguf_export import (
    DTYPES,
    export_gguf,
    ollama_modelfile,
    read_chat_template,
)
from tools.reporting import reported


def format_metric(value: float) -> str:
    """Four decimals: the metrics are scores and rates."""
    return f"{value:.4f}"


@click.group("models")
def models() -> None:
    """List the twin's model versions, promote one, or roll production back."""


@models.command("list")
def list_command() -> None:
    """Show the versions of llm_twin, newest first, with stage and the metrics their evaluation logged."""
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        versions = get_model_registry().list_versions()
    if not versions:
        click.echo(f"No versions of {TWIN_MODEL_NAME} yet; the training pipeline registers them.")
        return
    for version in versions:
        metrics = ", ".join(f"{name}={format_metric(value)}" for name, value in version.metrics.items())
        created = version.created.strftime("%Y-%m-%d %H:%M")
        stage = version.stage or "none"
        verdict = version.metadata.get(Key.VERDICT, "")
        line = f"{version.number:>4}  {version.name:<24} {stage:<10} {created}  {verdict:<7}  {metrics}"
        click.echo(line.rstrip())


@models.command("evaluation")
@click.argument("version", required=False)
def evaluation_command(version: str | None) -> None:
    """How VERSION (default: the newest) was evaluated: style fidelity of the author's held-out text, the
    base model and each evaluated model, with 95% intervals, then the promotion verdict and its reason."""
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        registry = get_model_registry()
        found = registry.get(version) if version else registry.latest()
    fidelity = found.metadata.get(Key.FIDELITY)
    if not fidelity:
        raise click.ClickException(
            f"Version {found.number} has no style fidelity on record; run `poe run-evaluation-pipeline`."
        )
    click.echo(f"Style fidelity of version {found.number} (share of answers attributed to the author):")
    for label, share in fidelity.items():
        shown = f"{share['share']:.2f} [{share['low']:.2f}, {share['high']:.2f}]"
        click.echo(f"  {label:<11} {shown}")
    verdict = found.metadata.get(Key.VERDICT, "none")
    click.echo(f"Verdict: {verdict}. {found.metadata.get(Key.PROMOTION_REASON, '')}".rstrip())


@models.command("promote")
@click.argument("version")
@click.option(
    "--stage", type=click.Choice([s.value for s in Stage]), required=True, help="Stage to move it to."
)
@click.option(
    "--reason", default="promoted from the command line", show_default=True, help="Why, for the record."
)
def promote_command(version: str, stage: str, reason: str) -> None:
    """Move VERSION (number or name) to a stage; the version holding that stage loses it."""
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        promoted = get_model_registry().promote(version, Stage(stage), reason)
    click.echo(f"{promoted.label} is now in {stage}.")


@models.command("rollback")
@click.option("--reason", default="rolled back from the command line", show_default=True, help="Why.")
def rollback_command(reason: str) -> None:
    """Put the version that production replaced back into production."""
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        restored = get_model_registry().rollback(reason)
    click.echo(f"{restored.label} ({restored.name}) is in production again.")


@models.command("export")
@click.argument("version")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["gguf"]),
    default="gguf",
    show_default=True,
    help="gguf: one file for llama.cpp, Ollama and LM Studio, with an Ollama Modelfile beside it.",
)
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    default="f16",
    show_default=True,
    help="Tensor type: f16 halves the file; f32 keeps the weights exactly.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the files (default: DATA_DIR/exports/llm_twin-v<N>/).",
)
def export_command(version: str, file_format: str, dtype: str, out: Path | None) -> None:
    """Write VERSION's merged model as a GGUF file, with an Ollama Modelfile carrying its chat template
    and system prompt."""
    from llm_engineering.infrastructure.container import get_settings
    from llm_engineering.infrastructure.container.models import get_model_registry

    with reported():
        registry = get_model_registry()
        target = registry.get(version)
        model_dir = registry.model_dir(target.number)
        if not (model_dir / "config.json").is_file():
            raise RegistryError(
                f"{target.label} has no merged model on this machine (logged model_dir: {model_dir}); "
                "export from the machine that trained it, or train again."
            )
        name = f"{TWIN_MODEL_NAME}-v{target.number}"
        folder = out or get_settings().data_dir / "exports" / name
        prompt = str(target.metadata.get(Key.SYSTEM_PROMPT, TWIN_SYSTEM_PROMPT))
        # Built first, so a chat template Ollama's syntax cannot carry fails before any file is written.
        modelfile_text = ollama_modelfile(f"{name}.{file_format}", read_chat_template(model_dir), prompt)
        gguf_file = export_gguf(model_dir, folder / f"{name}.{file_format}", dtype)
        modelfile = folder / "Modelfile"
        modelfile.write_text(modelfile_text, encoding="utf-8")
    size_mb = gguf_file.stat().st_size / 1e6
    click.echo(f"{target.label} is in {folder}: {gguf_file.name} ({dtype}, {size_mb:.0f} MB) and Modelfile.")
    click.echo(f"Ollama:    ollama create llm-twin -f {shlex.quote(str(modelfile))} && ollama run llm-twin")
    click.echo(f"llama.cpp: llama-cli -m {shlex.quote(str(gguf_file))} -cnv -sys {shlex.quote(prompt)}")
