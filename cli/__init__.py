"""regcode's command line: one module per verb, all errors mapped to exit codes in `main`."""
