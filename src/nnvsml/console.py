"""The ``nnvsml`` executable: the command line, with Ctrl-C answered from the first instant.

Importing the command line takes a moment (Typer, the options' checks); Ctrl-C then must still
print one line and exit 130, not a traceback.
"""

import signal
import sys


def main() -> None:
    try:
        from nnvsml.cli import RESUME_HINT, main as run
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may interrupt the exit itself
        print("nnvsml: interrupted", file=sys.stderr)
        sys.exit(130)
    try:
        run()
    except KeyboardInterrupt:  # between Typer's handler and ours
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(f"nnvsml: interrupted; {RESUME_HINT}", file=sys.stderr)
        sys.exit(130)
