"""The candidate registry: every model the comparison may train is declared here once.

A :class:`Candidate` is a small declarative spec. Adding a model to nnvsml means writing one
``build`` function that returns a scikit-learn estimator (usually a Pipeline whose first steps
encode the raw table) and registering one ``Candidate``; the protocol, the budget, the metrics,
the results and the verdict need no change. A network for images, text, series or audio is one
call of :func:`nnvsml.models.network_registry.register_network`.

Example
-------
>>> from nnvsml.models import REGISTRY, select
>>> [c.name for c in select("binary", families=["neural"])]
['mlp', 'ft_transformer']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator

from nnvsml.errors import InputError
from nnvsml.resources import free_cores
from nnvsml.models.space import Space, resolve

FAMILIES = ("traditional", "neural")


@dataclass(frozen=True)
class BuildContext:
    """What a candidate may know when it is built: the task and columns, never the test rows."""

    task: str
    kinds: dict[str, str]
    n_train: int
    seed: int = 0
    #: Seconds one fit may train for. Only time-aware candidates (the networks) honour it; the
    #: others are bounded by the hard per-candidate time limit of the runner.
    max_time: float | None = None
    #: Threads or processes a fit may use: the cores idle when it is built (OpenMP pools that ask
    #: for a core another process keeps busy slow every step down).
    n_jobs: int = field(default_factory=lambda: free_cores())
    modality: str = "tabular"
    #: The Dataset's ``info``: image size and channels, series length, mel bins, ...
    info: dict = field(default_factory=dict)
    #: Hyperparameters chosen by tuning (names of the candidate's ``space``); the rest default.
    params: Mapping[str, Any] = field(default_factory=dict)

    def hyper(self, space: Space) -> dict[str, Any]:
        """Every hyperparameter of ``space``: the tuned value where there is one, else its default."""
        return resolve(space, self.params)


@dataclass(frozen=True)
class Candidate:
    """One model the comparison may train.

    ``build(ctx)`` returns an unfitted estimator with the scikit-learn contract (``fit``,
    ``predict`` and, for classifiers, ``predict_proba``), reading its hyperparameters with
    ``ctx.hyper(space)``. ``space`` is the search space tuning explores, each dimension with its
    default and its small grid (see :mod:`nnvsml.models.space`). ``notes(ctx)`` returns
    decisions worth recording in the results (e.g. the SVM's large-data rule).
    """

    name: str
    family: str
    tasks: frozenset[str]
    build: Callable[[BuildContext], BaseEstimator]
    description: str
    modalities: frozenset[str] = frozenset({"tabular"})
    preprocessing: str = "linear"
    explanations: tuple[str, ...] = ()
    time_aware: bool = False
    notes: Callable[[BuildContext], dict] | None = None
    space: Space = field(default_factory=dict)
    #: How its fit time grows with the training rows (the exponent), until two fits measure it:
    #: the first cost estimate that orders the candidates and sizes a progressive sample.
    growth: float = 1.0
    #: Learns from batches of rows (its final step has ``stream_fit``): on a table larger than
    #: memory it trains on every training row, streamed, after its first fit in memory.
    streams: bool = False
    #: Learns from the rows whose target is missing too (``--unlabeled use``): it runs only
    #: when there are such rows, beside ``twin``, its model trained on the labelled rows alone.
    unlabelled: bool = False
    twin: str | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")

    def supports(self, task: str, modality: str = "tabular") -> bool:
        return task in self.tasks and modality in self.modalities


#: name -> Candidate, in the order they run (cheap models first, so results arrive early).
REGISTRY: dict[str, Candidate] = {}


def register(candidate: Candidate) -> Candidate:
    if candidate.name in REGISTRY:
        raise ValueError(f"candidate {candidate.name!r} is already registered")
    REGISTRY[candidate.name] = candidate
    return candidate


def get(name: str) -> Candidate:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(_unknown("model", name, REGISTRY)) from None


def select(
    task: str,
    modality: str = "tabular",
    models: Iterable[str] | None = None,
    families: Iterable[str] | None = None,
    unlabelled: bool = False,
) -> list[Candidate]:
    """The candidates to run for a task, filtered by ``--models`` and ``--families``; the
    semi-supervised ones only when the data has ``unlabelled`` rows to learn from.

    ``models`` may also hold :class:`Candidate` objects: specs defined outside the registry
    (their ``build`` must be a module-level function, so the isolated process can import it).
    """
    if isinstance(models, str):
        models = [models]
    custom = [m for m in (models or ()) if isinstance(m, Candidate)]
    if custom:
        names = [m for m in models if not isinstance(m, Candidate)]
        return custom + (select(task, modality, names, families, unlabelled) if names else [])
    names, families = check_names(models, families)
    for name in names or ():
        if not get(name).supports(task, modality):
            raise InputError(
                f"model '{name}' does not support {modality} {task} tasks; "
                f"run 'nnvsml models' to see which do"
            )
        if get(name).unlabelled and not unlabelled:
            raise InputError(f"model '{name}' learns from rows without a target; pass "
                             "--unlabeled use with data whose target is missing in some rows")
    chosen = [
        c for c in REGISTRY.values()
        if c.supports(task, modality) and (unlabelled or not c.unlabelled)
        and (names is None or c.name in names)
        and (families is None or c.family in families)
    ]
    if not chosen:
        raise InputError(
            "no candidate model left after --models/--families; run 'nnvsml models' to list them"
        )
    # A semi-supervised model is only worth what it adds to its twin: the twin always runs.
    twins = {c.twin for c in chosen if c.twin} - {c.name for c in chosen}
    return [c for c in REGISTRY.values() if c in chosen or c.name in twins]


def check_names(models, families) -> tuple[list[str] | None, list[str] | None]:
    """Normalise ``--models``/``--families`` (comma-separated or repeated) and reject unknown names."""
    families = _clean_list(families, "--families")
    for fam in families or ():
        if fam not in FAMILIES:
            raise InputError(_unknown("family", fam, FAMILIES))
    if isinstance(models, str):
        models = [models]
    names = _clean_list([m for m in models if not isinstance(m, Candidate)], "--models") \
        if models else None
    for name in names or ():
        get(name)
    return names, families


def _clean_list(values: Iterable[str] | None, flag: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    values = list(values)
    out = [v.strip() for item in values for v in str(item).split(",") if v.strip()]
    if values and not out:  # `-m ""` would otherwise quietly mean every candidate
        raise InputError(f"{flag} is empty; name at least one (see 'nnvsml models'), or leave "
                         "the option out for all of them")
    return out or None


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown {what} '{name}'; {hint}choose from: {', '.join(known)}"
