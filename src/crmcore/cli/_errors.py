"""The one error the command line turns into a one-line message and an exit code."""

from __future__ import annotations

__all__ = ["EXIT_INPUT", "EXIT_USAGE", "CliError"]

EXIT_INPUT = 1
"""Exit code for an input file that cannot be read (missing, not UTF-8, not CSV)."""

EXIT_USAGE = 2
"""Exit code for a command line that does not fit the input (unknown column, bad option)."""


class CliError(Exception):
    """A problem the user can fix; printed as one line, never with a traceback.

    Messages name files, options, columns and row numbers, never cell values.
    """

    def __init__(self, message: str, exit_code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code
