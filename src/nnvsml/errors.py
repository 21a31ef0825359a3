"""User-facing errors.

Every failure caused by the user's input or options is an :class:`InputError`. The command line
prints its message as one line on stderr and exits with code 2; the Python API lets it propagate.
Messages name the problem *and* the fix, e.g. ``"target column 'incme' not found; did you mean
'income'? (pass --target NAME)"``.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad data or bad options: one line that says what is wrong and how to fix it."""

    def __init__(self, message: str) -> None:
        # One line, always: a multi-line message would break the CLI contract.
        super().__init__(" ".join(str(message).split()))
