"""Prompt monitoring in Opik through its Python SDK: what Opik gets of an answer (`records`), the SDK
imported with its own reporting off (`sdk`), and the sink the service hands traces and verdicts to (`sink`).

Nothing here imports opik until a sink is built.
"""

from llm_engineering.infrastructure.monitoring.opik.sink import OpikSink

__all__ = ["OpikSink"]
