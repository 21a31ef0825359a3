"""User-facing errors.

Every failure caused by the user's input or options is an :class:`InputError`. The command line
prints its message as one line on stderr and exits with code 2; the Python API lets it propagate.
Messages name the problem *and* the fix, e.g. ``"target column 'incme' not found; did you mean
'income'? (pass --target NAME)"``.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories that do not print: controls (Cc: ESC, CSI, CR...) and format characters
#: (Cf: bidirectional overrides, zero-width spaces), which can rewrite or hide what a terminal
#: shows.
_HIDDEN = ("Cc", "Cf")


def printable(text: str) -> str:
    """``text`` with every control or format character written as its escape (``\\x1b``, ``\\n``).

    Column names, file names and option values come from the user's data and end up in
    messages; an escape sequence in one of them must show, not act on the terminal.
    """
    return "".join(
        repr(ch)[1:-1] if unicodedata.category(ch) in _HIDDEN else ch for ch in str(text)
    )


class InputError(ValueError):
    """Bad data or bad options: one line that says what is wrong and how to fix it."""

    def __init__(self, message: str) -> None:
        # One line, always: a multi-line message would break the CLI contract. Whitespace (line
        # breaks and tabs included) collapses to single spaces; what still does not print is
        # escaped.
        super().__init__(printable(" ".join(str(message).split())))
