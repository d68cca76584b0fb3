# The two quick-start commands (README): `make demo` and `make test`. Both set everything up first.
# `make test` also checks that every rules file is in the canonical layout (`regcode fmt` fixes it).
.PHONY: demo test setup bench

setup:
	@./scripts/bootstrap

demo: setup
	.venv/bin/regcode eval examples/cases/c-class-triggers.yaml --explain

test:
	@./scripts/bootstrap --with-browser
	.venv/bin/python -m pytest -q
	.venv/bin/regcode fmt --check --quiet policies tests/policies examples/amendment/policies examples/drafting

bench: setup
	.venv/bin/python benchmarks/bench.py
