"""One run's options: :class:`RunConfig`, frozen, typed and validated once.

Every option of a comparison lives here with its default, stated once, and with its rule, declared
in :data:`RunConfig._parameter_constraints` (as scikit-learn declares its estimators'
``_parameter_constraints``): a value is accepted when it is ``None`` where ``None`` is listed, or
when it passes one of the listed :class:`Type`, :class:`Interval` or :class:`Choices`; a
:class:`Check` then normalises it or raises its own message. Checks that tie several options
together are declared in :data:`RunConfig._joint_constraints`. A bad value raises
:class:`~nnvsml.errors.InputError` with one line naming the option and the fix, before any data is
read.

The command line and :func:`nnvsml.compare` build the same object the same way
(:meth:`RunConfig.build`) and the run receives it whole.

Example
-------
>>> config = RunConfig.build(budget=60, models="lightgbm,mlp", analyses="none")
>>> config.models, config.analyses, config.cv_folds
(('lightgbm', 'mlp'), (), 5)
>>> RunConfig.build(cv_folds=1)
Traceback (most recent call last):
...
nnvsml.errors.InputError: --cv-folds must be between 2 and 20, got 1
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from nnvsml.errors import InputError
from nnvsml.protocol.splits import VALIDATIONS

#: Seconds for the whole run when ``budget`` is not given.
DEFAULT_BUDGET = 300.0
#: The bundled demo is small: a shorter default keeps ``nnvsml compare`` under 3 minutes.
DEFAULT_DEMO_BUDGET = 120.0


# --- the kinds of constraint -------------------------------------------------------------------

@dataclass(frozen=True)
class Type:
    """The value is an instance of one of ``types`` (``bool`` counts only where it is named)."""

    types: tuple[type, ...]

    def __call__(self, value) -> bool:
        if isinstance(value, bool) and bool not in self.types:
            return False
        return isinstance(value, self.types)


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (``numbers.Integral`` or ``numbers.Real``; never a bool) between
    ``low`` and ``high`` (None: unbounded), ``closed`` on "both", "left", "right" or "neither"
    side; ``finite`` also rules out infinity."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"
    finite: bool = False

    def __call__(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if math.isnan(value) or (self.finite and not math.isfinite(value)):
            return False
        if self.low is not None and not (
                value >= self.low if self.closed in ("both", "left") else value > self.low):
            return False
        if self.high is not None and not (
                value <= self.high if self.closed in ("both", "right") else value < self.high):
            return False
        return True


@dataclass(frozen=True)
class Choices:
    """The value is one of ``choices``."""

    choices: tuple

    def __call__(self, value) -> bool:
        return any(isinstance(value, type(c)) and value == c for c in self.choices)


@dataclass(frozen=True)
class Check:
    """A callable that returns the value normalised or raises :class:`InputError` itself."""

    function: Callable[[Any], Any]

    def __call__(self, value):
        return self.function(value)


@dataclass(frozen=True)
class Rule:
    """What one option accepts: ``None`` (where listed), a value passing one of the tests
    (:class:`Type`, :class:`Interval`, :class:`Choices`; else ``message``, formatted with
    ``{value}``), then every :class:`Check`, in order; ``convert`` normalises what passed."""

    allowed: tuple
    message: str = ""
    convert: Callable[[Any], Any] | None = None

    def apply(self, value):
        if value is None and None in self.allowed:
            return None
        tests = [a for a in self.allowed if isinstance(a, (Type, Interval, Choices))]
        if tests and not any(test(value) for test in tests):
            raise InputError(self.message.format(value=_show(value)))
        if self.convert is not None:
            value = self.convert(value)
        for check in self.allowed:
            if isinstance(check, Check):
                value = check(value)
        return value


def _show(value) -> str:
    """A value as the messages print it: numbers as %g (whole numbers in full), text bare."""
    if isinstance(value, (bool, numbers.Integral)):
        return str(value)
    if isinstance(value, numbers.Real):
        return format(value, "g")
    if isinstance(value, str):
        return value
    return repr(value)


# --- checks that reuse the modules owning a vocabulary (imported when used: light import) ------

def _task(value):
    from nnvsml.data.target import normalize_task

    return normalize_task(value)


def _modality(value):
    from nnvsml.data.detect import normalize_modality

    return normalize_modality(value)


def _models(value) -> tuple | None:
    """Names (comma-separated or repeated) of registered candidates, and any :class:`Candidate`
    spec given as an object (kept first, as the run selects them)."""
    from nnvsml.models import REGISTRY  # noqa: F401  (registers the candidates)
    from nnvsml.models.registry import Candidate, check_names

    items = [value] if isinstance(value, (str, Candidate)) else _listed(value, "--models")
    custom = [m for m in items if isinstance(m, Candidate)]
    names, _ = check_names([m for m in items if not isinstance(m, Candidate)] or None, None)
    return tuple(custom + (names or [])) or None


def _families(value) -> tuple | None:
    from nnvsml.models.registry import check_names

    _, families = check_names(None, _listed(value, "--families"))
    return tuple(families) if families else None


def _listed(value, flag: str) -> list:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable):
        raise InputError(f"{flag} must be a name or a list of names, got {_show(value)}")
    return list(value)


def _search(value):
    from nnvsml.tuning.strategies import get_strategy

    get_strategy(value)
    return value


def _executor(value):
    from nnvsml.protocol.executor import get_executor

    get_executor(value)
    return value


def _mlflow(value) -> str:
    from nnvsml.tracking import check_scheme

    return check_scheme(value)


def _analyses(value) -> tuple[str, ...]:
    from nnvsml.evidence.runner import check_analyses

    return tuple(check_analyses(value))


def _priority(value) -> str:
    from nnvsml.verdict import check_preferences

    check_preferences(value)
    return value


def _limit(key: str) -> Callable:
    def check(value):
        from nnvsml.verdict import check_preferences

        check_preferences("accuracy", {key: value})
        return float(value) if key != "require_explanations" else value
    check.__name__ = f"_{key}"
    return check


def _tuning(config: RunConfig) -> None:
    from nnvsml.tuning.options import check_tuning_options

    check_tuning_options(config.search, config.trials, config.storage)


# --- the configuration -------------------------------------------------------------------------

_OPTIONAL = None  # listed in a rule's ``allowed``: the option may be left out


@dataclass(frozen=True)
class RunConfig:
    """Every option of one comparison; see :func:`nnvsml.compare` for what each one means.

    Validated when made (:meth:`validate`); what it holds is normalised: ``models``,
    ``families`` and ``analyses`` are tuples of names (``None``: no restriction), ``out`` a
    :class:`~pathlib.Path`, numbers of seconds floats, ``task`` and ``modality`` lower-case
    (``None``: inferred / detected). ``budget`` stays ``None`` until
    :meth:`with_data_defaults` fills it in from the data.
    """

    target: str | None = None
    budget: float | None = None
    seed: int = 0
    task: str | None = None
    modality: str | None = None
    out: Path | None = None
    models: tuple | None = None
    families: tuple[str, ...] | None = None
    cv_folds: int = 5
    validation: str = "auto"
    test_fraction: float = 0.2
    metric: str | None = None
    max_memory_mb: float | None = None
    #: The most rows of a table held in memory; a table with more (or too large for memory) is
    #: read in batches: see :mod:`nnvsml.data.large`. ``None``: by the memory rule.
    in_memory_rows: int | None = None
    retry_failed: bool = False
    search: str = "bayesian"
    trials: int | None = None
    storage: str | None = None
    analyses: tuple[str, ...] | str = "all"
    analysis_budget: float | None = None
    priority: str = "accuracy"
    max_latency_ms: float | None = None
    max_train_seconds: float | None = None
    max_model_mb: float | None = None
    require_explanations: bool = False
    report: bool = True
    name: str | None = None
    #: Where candidates run: ``local`` (isolated processes on this machine).
    executor: str = "local"
    #: The Ray cluster of ``executor="ray"`` (``auto``, ``HOST:PORT``; default ``RAY_ADDRESS``,
    #: else a new local one).
    ray_address: str | None = None
    #: An MLflow tracking URI (server URL or ``sqlite:///file``) the finished run is logged to.
    mlflow: str | None = None
    #: Clustering / anomaly runs: the column that scores the models and that none of them sees;
    #: the share of rows a detector flags; the number of clusters (None: each model chooses).
    evaluate_with: str | None = None
    contamination: float = 0.05
    clusters: int | None = None
    #: Rows whose target is missing: ``drop`` them (with a notice) or ``use`` them (the
    #: semi-supervised candidates learn from them too).
    unlabeled: str = "drop"

    #: The rule of every option (a missing one would be a bug: a test checks they match).
    _parameter_constraints: ClassVar[dict[str, Rule]] = {
        "target": Rule((_OPTIONAL, Type((str, numbers.Integral))),
                       "--target must be a column name, got {value}"),
        "budget": Rule((_OPTIONAL, Interval(numbers.Real, 0, None, "neither", finite=True)),
                       "--budget must be a positive number of seconds, got {value}", float),
        "seed": Rule((Interval(numbers.Integral, 0, 2**32 - 1),),
                     "--seed must be a whole number from 0 to 4294967295, got {value}", int),
        "task": Rule((_OPTIONAL, Check(_task))),
        "modality": Rule((_OPTIONAL, Check(_modality))),
        "out": Rule((_OPTIONAL, Type((str, os.PathLike))),
                    "--out must be a directory path, got {value}", Path),
        "models": Rule((_OPTIONAL, Check(_models))),
        "families": Rule((_OPTIONAL, Check(_families))),
        "cv_folds": Rule((Interval(numbers.Integral, 2, 20),),
                         "--cv-folds must be between 2 and 20, got {value}", int),
        "validation": Rule((Choices(VALIDATIONS),), f"--validation must be one of "
                           f"{', '.join(VALIDATIONS)}, got '{{value}}'"),
        "test_fraction": Rule((Interval(numbers.Real, 0.05, 0.5),),
                              "--test-fraction must be between 0.05 and 0.5, got {value}", float),
        "metric": Rule((_OPTIONAL, Type((str,))),
                       "--metric must be the name of a metric (see --help), got {value}"),
        "max_memory_mb": Rule((_OPTIONAL, Interval(numbers.Real, 0, None, "neither")),
                              "--max-memory-mb must be a positive number of MB, got {value}",
                              float),
        "in_memory_rows": Rule((_OPTIONAL, Interval(numbers.Integral, 1_000, None)),
                               "--in-memory-rows must be a whole number of at least 1000, got "
                               "{value}", int),
        "retry_failed": Rule((Type((bool,)),), "--retry-failed must be true or false, got {value}"),
        "search": Rule((Check(_search),)),
        "executor": Rule((Check(_executor),)),
        "trials": Rule((_OPTIONAL, Interval(numbers.Integral, 1, None)),
                       "--trials must be a whole number of at least 1, got {value}", int),
        "storage": Rule((_OPTIONAL, Type((str,))),
                        "--storage must be a database URL such as sqlite:///studies.db or "
                        "postgresql+psycopg://user@host/db, got '{value}'"),
        "analyses": Rule((Check(_analyses),)),
        "analysis_budget": Rule((_OPTIONAL, Interval(numbers.Real, 0, None, "neither")),
                                "--analysis-budget must be a positive number of seconds, got "
                                "{value}", float),
        "priority": Rule((Check(_priority),)),
        "max_latency_ms": Rule((_OPTIONAL, Check(_limit("max_latency_ms")))),
        "max_train_seconds": Rule((_OPTIONAL, Check(_limit("max_train_seconds")))),
        "max_model_mb": Rule((_OPTIONAL, Check(_limit("max_model_mb")))),
        "require_explanations": Rule((Check(_limit("require_explanations")),)),
        "report": Rule((Type((bool,)),), "--report must be true or false, got {value}"),
        "evaluate_with": Rule((_OPTIONAL, Type((str, numbers.Integral))),
                              "--evaluate-with must be a column name, got {value}", str),
        "contamination": Rule((Interval(numbers.Real, 0.0, 0.5, "right"),),
                              "--contamination must be a share of the rows above 0 and at most "
                              "0.5, got {value}", float),
        "clusters": Rule((_OPTIONAL, Interval(numbers.Integral, 2, 1000)),
                         "--clusters must be a whole number from 2 to 1000, got {value}", int),
        "unlabeled": Rule((Choices(("drop", "use")),),
                          "--unlabeled must be drop or use, got '{value}'"),
        "name": Rule((_OPTIONAL, Type((str,))), "the run's name must be text, got {value}"),
        "mlflow": Rule((_OPTIONAL, Check(_mlflow))),
        "ray_address": Rule((_OPTIONAL, Type((str,))),
                            "--ray-address must be auto or HOST:PORT, got {value}"),
    }
    #: Checks across options, run once each option has passed its own rule.
    _joint_constraints: ClassVar[tuple[Callable[[RunConfig], None], ...]] = (_tuning,)

    def __post_init__(self) -> None:
        for key, value in self.validate().items():
            object.__setattr__(self, key, value)

    def validate(self) -> dict[str, Any]:
        """Check every option against its declared rule, then the rules across options; raise
        :class:`InputError` (one line) at the first bad one. Returns the normalised values."""
        values = {f.name: self._parameter_constraints[f.name].apply(getattr(self, f.name))
                  for f in dataclasses.fields(self)}
        normalised = _Values(values)
        for check in self._joint_constraints:
            check(normalised)
        return values

    @classmethod
    def build(cls, **options) -> RunConfig:
        """A config from keyword options (those of :func:`nnvsml.compare`); an unknown name is a
        ``TypeError`` that suggests the closest."""
        known = [f.name for f in dataclasses.fields(cls)]
        for key in options:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise TypeError(f"unknown option '{key}'{hint}")
        return cls(**options)

    def with_data_defaults(self, data) -> RunConfig:
        """This config with the defaults that depend on ``data`` filled in: a run bounded by
        neither seconds nor trials gets :data:`DEFAULT_BUDGET` seconds, or
        :data:`DEFAULT_DEMO_BUDGET` on the bundled demo data (``data`` None)."""
        if self.budget is not None or self.trials is not None:
            return self
        return dataclasses.replace(
            self, budget=DEFAULT_DEMO_BUDGET if data is None else DEFAULT_BUDGET)

    @property
    def constraints(self) -> dict[str, Any]:
        """The verdict's constraints that were given (see :func:`nnvsml.verdict.decide`)."""
        given = {"max_latency_ms": self.max_latency_ms,
                 "max_train_seconds": self.max_train_seconds,
                 "max_model_mb": self.max_model_mb,
                 "require_explanations": True if self.require_explanations else None}
        return {k: v for k, v in given.items() if v is not None}

    def check_storage(self) -> None:
        """Open a given ``storage`` now, so that an unreachable database is reported before any
        data is read (the run's own default, an SQLite file, is opened by the run). Kept out of
        :meth:`validate`: making a config never touches the outside world."""
        if self.storage is not None:
            from nnvsml.tuning.storage import open_storage

            open_storage(self.storage)

    def check_executor(self) -> None:
        """Reach a given Ray cluster now, before any data is read or any file written."""
        if self.executor == "ray" and self.ray_address is not None:
            from nnvsml.protocol.ray_executor import check_address

            check_address(self.ray_address)

    def check_tracking(self) -> None:
        """Reach a given ``mlflow`` tracking store now: an unreachable one is reported before
        anything trains, not after the comparison."""
        if self.mlflow is not None:
            from nnvsml.tracking import check_uri

            check_uri(self.mlflow)


class _Values:
    """Attribute access to the normalised values, for the checks across options."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

