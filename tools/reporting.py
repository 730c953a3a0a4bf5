"""The command line is a boundary: a TwinError shows as one line that says the fix, not a traceback."""

from collections.abc import Iterator
from contextlib import contextmanager

import click

from llm_engineering.domain.exceptions import TwinError


@contextmanager
def reported() -> Iterator[None]:
    """Show a TwinError raised inside the block as a one-line command error."""
    try:
        yield
    except TwinError as error:
        raise click.ClickException(str(error)) from error
