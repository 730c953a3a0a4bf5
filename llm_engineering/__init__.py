"""LLM Twin: turn a person's own writing into an LLM that writes like them."""

import os

# comet_ml (which transformers imports whenever it is installed) and opik start Sentry error reporting to
# their vendors when they are imported, unless told not to; the project sends nothing anywhere it was not
# asked to. Set before either can be imported by anything of the package; a value the user set is kept.
os.environ.setdefault("COMET_ERROR_TRACKING_ENABLE", "false")
os.environ.setdefault("OPIK_SENTRY_ENABLE", "false")
