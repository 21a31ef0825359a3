"""The ``nnvsml`` executable: the command line, with Ctrl-C answered from the first instant.

Importing the command line takes a moment (Typer, the options' checks); Ctrl-C then must still
print one line and exit 130, not a traceback.
"""

import atexit
import os
import signal
import sys

_EXIT_INTERRUPTED, _EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM
_leaving_with: list[int] = []


@atexit.register  # registered first, so it runs last, after every other exit handler
def _keep_exit_code() -> None:
    # CPython remembers a KeyboardInterrupt that interrupted any exec() of a string (dataclasses
    # and namedtuples make their methods so, at import) and, at exit, kills itself with SIGINT
    # instead of returning our 130. The cleanup has run by now; only the code is left to give.
    if _leaving_with:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_leaving_with[0])


def main() -> None:
    try:
        from nnvsml.cli import RESUME_HINT, main as run
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may interrupt the exit itself
        print("nnvsml: interrupted", file=sys.stderr)
        _leave(_EXIT_INTERRUPTED)
    try:
        run()
    except KeyboardInterrupt:  # between Typer's handler and ours
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(f"nnvsml: interrupted; {RESUME_HINT}", file=sys.stderr)
        _leave(_EXIT_INTERRUPTED)
    except SystemExit as exc:
        if exc.code in (_EXIT_INTERRUPTED, _EXIT_TERMINATED):
            _leaving_with.append(exc.code)
        raise


def _leave(code: int) -> None:
    _leaving_with.append(code)
    sys.exit(code)
