"""regcode's engine: load -> validate -> compile -> evaluate -> explain. This module is its public surface."""
from .case import case_as_of, evaluate_case
from .catalog import Catalog, SelectionError, VersionInfo, shipped_root
from .compile import CompiledPolicy, compile_version
from .errors import (CompileError, EvaluationError, InputError, Issue, LoadError, Location, PolicyError,
                     SchemaError)
from .evaluate import BACKENDS, DEFAULT_BACKEND, Evaluation, check_case, evaluate
from .explain import to_dict, to_text
from .load import Document, dump_json, load_case_file, load_case_text, load_version
from .validate import validate_version

__all__ = [
    "BACKENDS", "Catalog", "DEFAULT_BACKEND", "CompileError", "CompiledPolicy", "Document", "EvaluationError", "Evaluation",
    "InputError", "Issue", "LoadError", "Location", "PolicyError", "SchemaError", "SelectionError", "VersionInfo",
    "case_as_of", "check_case", "compile_version", "evaluate_case", "dump_json", "evaluate", "load_case_file", "load_case_text", "load_version",
    "shipped_root", "to_dict", "to_text", "validate_version",
]
