"""Registers every verb on the `regcode` group (one module per verb)."""
from . import batch, evaluate, plan, policies, site, testcmd, validate, versions  # noqa: F401
