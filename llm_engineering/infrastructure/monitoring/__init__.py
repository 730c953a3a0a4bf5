"""Prompt monitoring: traces and feedback in the warehouse, Opik, and the fan-out between them."""
