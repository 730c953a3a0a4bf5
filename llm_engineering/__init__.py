"""LLM Twin: turn a person's own writing into an LLM that writes like them."""
