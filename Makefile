# The two quick-start commands (README): `make demo` and `make test`. Both set everything up first.
.PHONY: demo test setup bench

setup:
	@./scripts/bootstrap

demo: setup
	.venv/bin/regcode eval --explain examples/cases/c-class-triggers.yaml

test: setup
	.venv/bin/python -m pytest -q

bench: setup
	.venv/bin/python benchmarks/bench.py
