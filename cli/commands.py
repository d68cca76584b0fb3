"""The verbs of `regcode` and the module that defines each (one module per verb, imported when it runs)."""
COMMANDS = {
    "batch": "batch",
    "check": "check",
    "coverage": "testcmd",
    "diff": "versions",
    "eval": "evaluate",
    "fmt": "fmt",
    "plan": "plan",
    "policies": "policies",
    "replay": "replay",
    "schema": "schema",
    "serve": "serve",
    "show": "versions",
    "site": "site",
    "test": "testcmd",
    "validate": "validate",
}


def load_all() -> None:
    """Import every verb (tests and tools that walk the whole group)."""
    from importlib import import_module
    for module in sorted(set(COMMANDS.values())):
        import_module(f"{__package__}.{module}")
