"""The house rule for a user-facing failure, as the tests check it: one line on stderr, no
traceback, and the exit code."""

from __future__ import annotations

import pytest

from nnvsml.cli import main


def cli_failure(capsys, args: list[str]) -> tuple[int, str]:
    """Run ``nnvsml ARGS`` in this process, expecting it to exit; its code and its one line."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return exc.value.code, err
