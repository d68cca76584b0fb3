"""`python -m regcode` runs the CLI."""
from regcode.cli.main import main

main()
