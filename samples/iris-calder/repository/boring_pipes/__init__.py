"""Small, deterministic helpers for preparing documents for retrieval."""

__version__ = "0.3.0"
