"""Shared fixtures: the catalog of test policies, and the toy policy compiled once."""
from __future__ import annotations

from pathlib import Path

import pytest

from regcode.engine import Catalog

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
TEST_POLICIES = TESTS / "policies"
FIXTURES = TESTS / "fixtures"


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
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")
