"""Registers every verb on the `regcode` group (one module per verb)."""
from . import batch, evaluate, plan, policies, replay, serve, testcmd, validate, versions  # noqa: F401
