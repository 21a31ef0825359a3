"""Checks of ``--search``, ``--trials`` and ``--storage``, before any data is read (a given
``--storage`` is opened, so an unreachable database is reported at once)."""

from __future__ import annotations

from nnvsml.errors import InputError
from nnvsml.tuning.storage import open_storage
from nnvsml.tuning.strategies import get_strategy


def check_tuning_options(search: str, trials: int | None, storage: str | None) -> None:
    strategy = get_strategy(search)
    if trials is not None:
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise InputError(f"--trials must be a whole number of at least 1, got {trials}")
        if strategy.name == "none":
            raise InputError("--trials counts tuning trials, but --search is none; choose a "
                             "strategy (bayesian, random, grid, hyperband) or drop --trials")
    if storage is not None:
        if strategy.name == "none":
            raise InputError("--storage holds tuning studies, but --search is none; choose a "
                             "strategy or drop --storage")
        if "://" not in storage:
            raise InputError(f"--storage must be a database URL such as sqlite:///studies.db or "
                             f"postgresql+psycopg://user@host/db, got '{storage}'")
        # Reached now, before the data is read: an unreachable database should not cost the
        # time it takes to load a large file. The run's own default (SQLite) is opened by the run.
        open_storage(storage)
