"""Connect this client to a ZenML server (the one `docker-compose.yml` runs, or any other), say where it is
connected, and go back to the local store.

A remote stack needs a server its jobs can reach: ZenML refuses SageMaker orchestrators and step operators
with a local store, and a `zenml login --local` server counts as local. ZenML is imported inside the commands.
"""

import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx

API_KEY_ENV = "ZENML_STORE_API_KEY"


def server_info(url: str) -> dict[str, Any]:
    """The server's `/api/v1/info`, or an error that says what to check."""
    try:
        response = httpx.get(f"{url}/api/v1/info", timeout=15)
        response.raise_for_status()
        info: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise click.ClickException(
            f"No ZenML server answers at {url} ({error}). Start one (`poe zenml-server-up` on its host) or "
            "check the URL, its port and that this machine can reach it."
        ) from error
    return info


def check_versions(url: str, server_version: str) -> None:
    """ZenML needs the client and the server at the same version."""
    from zenml import __version__ as client_version

    if server_version != client_version:
        raise click.ClickException(
            f"The server at {url} runs ZenML {server_version}, this client {client_version}; ZenML needs "
            f"them equal. Run the server image zenmldocker/zenml-server:{client_version} (docker-compose.yml "
            "pins it)."
        )


def log_in(url: str, auth_scheme: str) -> None:
    """Make `url` this client's store: directly when the server asks no login, with the API key in
    ZENML_STORE_API_KEY when set (a service account's, for CI), else through ZenML's browser login."""
    from zenml.config.global_config import GlobalConfiguration
    from zenml.login.credentials_store import get_credentials_store
    from zenml.zen_stores.rest_zen_store import RestZenStoreConfiguration

    api_key = os.environ.get(API_KEY_ENV, "").strip()
    if auth_scheme != "NO_AUTH" and not api_key:
        # ZenML's device flow prints a link to open and waits for the login there.
        subprocess.run([str(Path(sys.executable).with_name("zenml")), "login", url], check=True)
        return
    if api_key:
        get_credentials_store().set_api_key(url, api_key)
    GlobalConfiguration().set_store(RestZenStoreConfiguration(url=url))


@click.group("zenml-server")
def zenml_server() -> None:
    """Connect to a ZenML server, show the connection, or go back to the local store."""


JWT_KEY = "ZENML_SERVER_JWT_SECRET_KEY"
COMPOSE_UP = ["docker", "compose", "--profile", "zenml", "up", "-d", "zenml"]


def jwt_key_is_set(env_file: Path = Path(".env")) -> bool:
    """Whether docker compose will pass the server a token-signing key: from the shell, or from .env."""
    from dotenv import dotenv_values

    return bool(os.environ.get(JWT_KEY) or (env_file.is_file() and dotenv_values(env_file).get(JWT_KEY)))


@zenml_server.command("up")
def up() -> None:
    """Start the ZenML server of docker-compose.yml here, with a token-signing key that survives restarts."""
    if not jwt_key_is_set():
        raise click.ClickException(
            f"Set {JWT_KEY} first, in .env or the shell: a long random value that stays the same, e.g. the "
            'output of `python -c "import secrets; print(secrets.token_hex(32))"`. Without it the server '
            "draws a new key at each start, and every login and scheduled pipeline stops working at a "
            "restart."
        )
    subprocess.run(COMPOSE_UP, check=True)
    click.echo("The ZenML server starts on port 8080; create its first user on the dashboard there.")


@zenml_server.command("connect")
@click.option("--url", required=True, help="The server's address, e.g. http://10.0.0.5:8080.")
def connect(url: str) -> None:
    """Connect this client to the ZenML server at URL (login as the server asks)."""
    from zenml.client import Client

    url = url.rstrip("/")
    info = server_info(url)
    check_versions(url, str(info.get("version")))
    log_in(url, str(info.get("auth_scheme")))
    client = Client()
    click.echo(
        f"Connected to the ZenML server at {url} (ZenML {info.get('version')}, {info.get('deployment_type')} "
        f"deployment); active stack: {client.active_stack_model.name}."
    )
    if client.zen_store.is_local_store():
        click.echo(
            "This server shares this machine's ZenML identity, so ZenML treats it as local: SageMaker steps "
            "could not reach it. Run the server on a host they can reach."
        )
    elif is_loopback(url):
        click.echo(
            f"{url} is a loopback address: commands here reach it, SageMaker jobs cannot, and they would be "
            "handed this address. For runs on SageMaker, connect with an address the jobs can reach."
        )


def is_loopback(url: str) -> bool:
    """Whether `url` names this machine only (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: reachable or not, it is not loopback by its form
        return False


@zenml_server.command("status")
def status() -> None:
    """Say which store this client uses and whether remote stacks can run from it."""
    from zenml.client import Client

    store = Client().zen_store
    kind = "a local store" if store.is_local_store() else "a remote ZenML server"
    click.echo(f"ZenML store: {store.url} ({kind}); active stack: {Client().active_stack_model.name}.")


@zenml_server.command("disconnect")
def disconnect() -> None:
    """Go back to this machine's local store (the server and what it holds are left as they are)."""
    from zenml.config.global_config import GlobalConfiguration

    GlobalConfiguration().set_default_store()
    click.echo("Using the local ZenML store again; `poe zenml-server-connect --url URL` reconnects.")
