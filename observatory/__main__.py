"""`python -m observatory` runs the CLI."""

from observatory.cli import main

main()
