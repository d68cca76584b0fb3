"""Registers every verb on the `regcode` group (one module per verb)."""
from . import evaluate, policies, validate  # noqa: F401
