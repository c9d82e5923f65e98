"""Errors that carry a user-facing problem and its fix.

The CLI turns InputError into one line and exit code 2; anything else is an internal error (3).
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input or usage: a missing or corrupt file, a wrong format, an unknown config..."""

    def __init__(self, problem: str, fix: str = ""):
        self.problem = problem
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.problem} — {self.fix}" if self.fix else self.problem


class UnsafeCheckpointError(InputError):
    """A pickle that needs globals outside torch's weights_only allow-list: refused, never executed."""
