"""Registers every verb on the `regcode` group (one module per verb)."""
from . import batch, check, evaluate, fmt, plan, policies, schema, testcmd, validate, versions  # noqa: F401
