# The two quick-start commands (README): `make demo` and `make test`. Both set everything up first.
.PHONY: demo test setup bench

setup:
	@./scripts/bootstrap

demo: setup
	.venv/bin/regcode eval examples/cases/c-class-triggers.yaml --explain

test: setup
	.venv/bin/python -m pytest -q

bench: setup
	.venv/bin/python benchmarks/bench.py
