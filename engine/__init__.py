"""regcode's engine: load -> validate -> compile -> evaluate -> explain. This module is its public surface.

Names are imported on first use (PEP 562), so a command imports only the stages it runs: an `eval`
served from the compiled-policy cache never imports the validator or the compiler.
"""
from importlib import import_module

# `evaluate` is both a module and a function: importing the module first binds the name to the function
# (a later import of the submodule would otherwise replace the function by the module). It is light:
# it imports neither the validator nor the compiler.
from .evaluate import BACKENDS, DEFAULT_BACKEND, Evaluation, check_case, evaluate  # noqa: F401

_EXPORTS = {
    "case_as_of": "case", "evaluate_case": "case",
    "Catalog": "catalog", "SelectionError": "catalog", "VersionInfo": "catalog", "shipped_root": "catalog",
    "CompiledPolicy": "compile", "compile_version": "compile",
    "CompileError": "errors", "EvaluationError": "errors", "InputError": "errors", "Issue": "errors",
    "LoadError": "errors", "Location": "errors", "PolicyError": "errors", "SchemaError": "errors",
    "to_dict": "explain", "to_text": "explain",
    "Document": "load", "dump_json": "load", "dump_json_bytes": "load", "load_case_file": "load", "load_case_text": "load", "load_version": "load",
    "validate_version": "validate",
}

__all__ = sorted(set(_EXPORTS) | {"BACKENDS", "DEFAULT_BACKEND", "Evaluation", "check_case", "evaluate"})


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
