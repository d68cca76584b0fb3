"""Shared fixtures: the catalog of test policies, and the toy policy compiled once."""
from __future__ import annotations

import importlib.util
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from regcode.engine import Catalog

pytest_plugins = ["pytester"]   # tests/test_pytest_plugin.py runs pytest itself, as a user would

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
TEST_POLICIES = TESTS / "policies"
FIXTURES = TESTS / "fixtures"


def load_module(path: Path, name: str):
    """Import a script (benchmarks/*.py) by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = load_module(REPO / "benchmarks" / "generate.py", "regcode_benchmarks_generate")


def _durable_available() -> bool:
    from regcode.engine import _durable
    return _durable.available()


# The durable-rules backend is the optional extra regcode[durable] (Python 3.11 and 3.12); CI installs it,
# and tests/test_adapter.py checks that it is there wherever it can be.
needs_durable = pytest.mark.skipif(not _durable_available(), reason="durable-rules is not installed (regcode[durable])")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """The compiled-policy cache of the test run is its own (never the user's ~/.cache)."""
    import os
    os.environ["REGCODE_CACHE_DIR"] = str(tmp_path_factory.mktemp("regcode-cache"))
    yield


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ from the current output")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog([TEST_POLICIES])


@pytest.fixture(scope="session")
def toy(catalog):
    return catalog.by_ref("toy@1")


@pytest.fixture
def locked_folders(monkeypatch):
    """A corpus folder named `locked` cannot be listed: root reads any folder, so the refusal is simulated where
    engine/corpus.py's os.walk meets it."""
    import os
    from regcode.engine import corpus
    real_walk = os.walk

    def walk(top, onerror=None, **kw):
        for root, dirs, files in real_walk(top, onerror=onerror, **kw):
            if root.endswith("locked"):
                onerror(PermissionError(13, "Permission denied", root))
                continue
            yield root, dirs, files
    monkeypatch.setattr(corpus.os, "walk", walk)


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@contextmanager
def bounded(seconds: float):
    """Fail a run that takes longer than `seconds`: a guard against hangs (generous), not a speed test."""
    def expired(signum, frame):
        raise TimeoutError(f"one run took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
