"""The command line is a boundary: a TwinError shows as one line that says the fix, not a traceback."""

from collections.abc import Iterator
from contextlib import contextmanager

import click
from pydantic import ValidationError

from llm_engineering.domain.exceptions import TwinError


@contextmanager
def reported() -> Iterator[None]:
    """Show a TwinError, or settings or a config that do not validate, as a command error, not a traceback."""
    try:
        yield
    except TwinError as error:
        raise click.ClickException(str(error)) from error
    except ValidationError as error:
        raise click.ClickException(f"{error.title} is invalid: {error}") from error
