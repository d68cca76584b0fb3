"""`python -m regcode.cli` runs the CLI."""
from regcode.cli.main import main

main()
