"""`python -m emsync` runs the CLI."""

from emsync.cli import main

main()
