"""ZenML steps: each unpacks its inputs, calls one application function and logs metadata."""
