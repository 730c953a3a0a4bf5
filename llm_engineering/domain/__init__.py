"""Pure models and functions: no I/O, no clients, only the standard library and pydantic."""
