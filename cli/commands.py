"""Registers every verb on the `regcode` group (one module per verb)."""
from . import evaluate, policies, testcmd, validate, versions  # noqa: F401
