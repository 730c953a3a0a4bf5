"""Versioned prompt templates (Jinja, in `prompts/`) rendered into conversations."""

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from llm_engineering.domain.generation import ChatMessage, Conversation

PROMPTS_DIR = Path(__file__).parent / "prompts"


@cache
def _environment() -> Environment:
    # StrictUndefined: a template that names a missing variable fails instead of rendering a hole.
    return Environment(loader=FileSystemLoader(PROMPTS_DIR), undefined=StrictUndefined, autoescape=False)


def render_conversation(template: str, **variables: object) -> Conversation:
    """The system and user messages a template defines (`{% set system %}`, `{% set user %}`).

    >>> render_conversation("answer_v1", instruction="Explain chunk overlap.")[1].content
    'Explain chunk overlap.'
    """
    module = _environment().get_template(f"{template}.jinja").make_module(dict(variables))
    return [
        ChatMessage(role="system", content=str(module.system).strip()),  # type: ignore[attr-defined]
        ChatMessage(role="user", content=str(module.user).strip()),  # type: ignore[attr-defined]
    ]
