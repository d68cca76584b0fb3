"""Registers every verb on the `regcode` group (one module per verb)."""
from . import batch, evaluate, plan, policies, testcmd, validate, versions  # noqa: F401
