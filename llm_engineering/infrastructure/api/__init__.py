"""The inference service: a FastAPI app over the answering use case."""
