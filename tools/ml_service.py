"""`serve` and `ask`: run the inference service, and call it from the command line."""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from llm_engineering.infrastructure.container import get_settings
from tools.reporting import reported

if TYPE_CHECKING:
    from llm_engineering.infrastructure.api.app import ServiceApp


def build_app(config_path: Path | None) -> "ServiceApp":
    """The service app over the configured stores and the twin's model, built now: a store or model that
    cannot be had is one line from `reported`, before the server starts, not a server's startup traceback."""
    from llm_engineering.infrastructure.api.app import ServiceLimits, create_app
    from llm_engineering.infrastructure.container.service import (
        build_parts,
        read_answer_config,
        read_queue_config,
    )

    settings = get_settings()
    parts = build_parts(read_answer_config(config_path), read_queue_config(config_path))
    return create_app(lambda: parts, ServiceLimits(api_key=settings.service_api_key))


CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="AnswerConfig YAML.",
)


@click.command("serve")
@CONFIG_OPTION
@click.option("--host", default=None, help="Default: SERVICE_HOST.")
@click.option("--port", type=int, default=None, help="Default: SERVICE_PORT.")
def serve(config_path: Path | None, host: str | None, port: int | None) -> None:
    """Serve the twin over HTTP: /rag, /v1/chat/completions, /feedback, the chat page at /."""
    import uvicorn

    settings = get_settings()
    with reported():
        app = build_app(config_path)
    uvicorn.run(app, host=host or settings.service_host, port=port or settings.service_port, log_level="info")


@click.command("ask")
@click.argument("question", default="What does Iris Calder think about chunking documents?")
@click.option("--url", default=None, help="Default: http://SERVICE_HOST:SERVICE_PORT.")
@click.option("--in-process", is_flag=True, help="Start the service in this process, ask over HTTP, stop it.")
@CONFIG_OPTION
def ask(question: str, url: str | None, in_process: bool, config_path: Path | None) -> None:
    """Ask the running service a question; prints the answer and its sources."""
    if in_process:
        from llm_engineering.infrastructure.api.in_thread import served_in_thread

        with reported(), served_in_thread(build_app(config_path)) as here:
            ask_over_http(question, here)
        return
    settings = get_settings()
    ask_over_http(question, url or f"http://{settings.service_host}:{settings.service_port}")


def ask_over_http(question: str, base: str) -> None:
    import httpx

    settings = get_settings()
    headers = (
        {"Authorization": f"Bearer {settings.service_api_key.get_secret_value()}"}
        if settings.service_api_key
        else {}
    )
    try:
        response = httpx.post(f"{base}/rag", json={"query": question}, headers=headers, timeout=300)
    except httpx.HTTPError as error:
        raise click.ClickException(
            f"No service at {base} ({error}); start it with `poe run-inference-ml-service`."
        ) from error
    if response.status_code != 200:
        raise click.ClickException(f"The service answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    click.echo(body["answer"])
    click.echo("\nSources:")
    for source in body["sources"]:
        click.echo(f"  [{source['n']}] {source['title']} ({source['link']})")
    click.echo(
        f"\nanswer_id={body['answer_id']} "
        + json.dumps({k: round(v, 3) for k, v in body["timings_s"].items()})
    )
    sys.stdout.flush()
