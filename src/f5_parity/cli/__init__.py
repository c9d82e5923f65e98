"""The command line: the only layer that prints or exits."""

from f5_parity.cli.main import main

__all__ = ["main"]
