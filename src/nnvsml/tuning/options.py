"""The checks across ``--search``, ``--trials`` and ``--storage``, one of the joint rules of
:class:`nnvsml.config.RunConfig` (each option's own rule is declared there; a given ``--storage``
is opened by :meth:`~nnvsml.config.RunConfig.check_storage`, before any data is read)."""

from __future__ import annotations

from nnvsml.errors import InputError
from nnvsml.tuning.strategies import get_strategy


def check_tuning_options(search: str, trials: int | None, storage: str | None) -> None:
    strategy = get_strategy(search)
    if trials is not None:
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
