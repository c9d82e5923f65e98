"""Errors that carry a user-facing problem and its fix.

The CLI turns InputError into one line and exit code 2 (ExitCode.INPUT_ERROR); anything else is an
internal error (3).
"""

from __future__ import annotations

import enum


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


def syntax_error_line(path: object, exc: Exception) -> str:
    """'file:line:column: what' for a YAML or TOML syntax error, on one line (the parsers' own messages
    span several lines with a caret drawing)."""
    import re

    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or getattr(exc, "context", None)
    if mark is not None:  # yaml.MarkedYAMLError: 0-based line/column
        return f"{path}:{mark.line + 1}:{mark.column + 1}: {what or type(exc).__name__}"
    text = " ".join(str(exc).split())
    found = re.search(r"\(at line (\d+), column (\d+)\)", text)  # tomllib.TOMLDecodeError
    if found:
        return f"{path}:{found.group(1)}:{found.group(2)}: {text[:found.start()].strip() or type(exc).__name__}"
    return f"{path}: {text or type(exc).__name__}"


class ExitCode(enum.IntEnum):
    """`parity-check`'s exit statuses (like pytest's ExitCode): what a CI gate or a shell script tests."""

    OK = 0  # every check passed
    FAILED = 1  # parity or a gate check failed (or the user's own code ended the command early)
    INPUT_ERROR = 2  # bad usage or input: one line naming the problem and its fix
    INTERNAL_ERROR = 3  # a fault of the tool itself
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
