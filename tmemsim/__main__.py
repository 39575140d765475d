"""`python -m tmemsim`: the same command line as the `tmemsim` script."""

from .cli import main

main()
