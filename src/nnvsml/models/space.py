"""Search spaces: what each candidate declares beside its spec.

A space maps a hyperparameter's name to a dimension (:class:`Float`, :class:`Int` or
:class:`Choice`). Every dimension carries the candidate's *default* (what runs under
``--search none`` and as the first trial of every search) and a small *grid* (what
``--search grid`` tries). The build function reads its values with :func:`resolve`, so the
defaults are written once, here.

Example
-------
>>> space = {"C": Float(1e-3, 1e3, log=True, default=1.0, grid=(0.1, 1.0, 10.0))}
>>> resolve(space, {})
{'C': 1.0}
>>> resolve(space, {"C": 10.0})
{'C': 10.0}
>>> grid(space)
{'C': [0.1, 1.0, 10.0]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class _Range:
    low: float
    high: float
    default: float
    log: bool = False
    grid: Sequence[float] = ()

    def contains(self, value: Any) -> bool:
        return isinstance(value, self._types) and self.low <= value <= self.high


class Float(_Range):
    """A real number in [low, high], log-uniform with ``log``."""

    _types = (int, float)

    def suggest(self, trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)


class Int(_Range):
    """A whole number in [low, high], log-uniform with ``log``."""

    _types = (int,)

    def suggest(self, trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Choice:
    options: Sequence[Any]
    default: Any
    grid: Sequence[Any] = ()

    def suggest(self, trial, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.options))

    def contains(self, value: Any) -> bool:
        return value in self.options


Dimension = Union[Float, Int, Choice]
Space = Mapping[str, Dimension]


def resolve(space: Space, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every hyperparameter of ``space``: the value in ``params``, else the default."""
    params = params or {}
    return {name: params.get(name, dim.default) for name, dim in space.items()}


def defaults(space: Space) -> dict[str, Any]:
    return {name: dim.default for name, dim in space.items()}


def suggest(trial, space: Space) -> dict[str, Any]:
    """Ask an Optuna trial for one value of every dimension."""
    return {name: dim.suggest(trial, name) for name, dim in space.items()}


def grid(space: Space) -> dict[str, list]:
    """The declared grid; a dimension without one is held at its default."""
    return {name: list(dim.grid) or [dim.default] for name, dim in space.items()}


def grid_size(space: Space) -> int:
    n = 1
    for values in grid(space).values():
        n *= len(values)
    return n
