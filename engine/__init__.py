"""regcode's engine: load -> validate -> compile -> evaluate -> explain. This module is its public surface.

Names are imported on first use (PEP 562), so a command imports only the stages it runs: an `eval`
served from the compiled-policy cache never imports the validator or the compiler.
"""
from importlib import import_module

_EXPORTS = {
    "case_as_of": "case", "evaluate_case": "case",
    "Catalog": "catalog", "SelectionError": "catalog", "VersionInfo": "catalog", "shipped_root": "catalog",
    "CompiledPolicy": "compile", "compile_version": "compile",
    "CompileError": "errors", "EvaluationError": "errors", "InputError": "errors", "Issue": "errors",
    "LoadError": "errors", "Location": "errors", "PolicyError": "errors", "SchemaError": "errors",
    "BACKENDS": "evaluate", "DEFAULT_BACKEND": "evaluate", "Evaluation": "evaluate", "check_case": "evaluate",
    "evaluate": "evaluate",
    "to_dict": "explain", "to_text": "explain",
    "Document": "load", "dump_json": "load", "load_case_file": "load", "load_case_text": "load", "load_version": "load",
    "validate_version": "validate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
