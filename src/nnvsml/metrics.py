"""The metrics every candidate is scored on, the same for both families.

ROC-AUC and log loss are computed from predicted probabilities, never from hard labels: a
model without ``predict_proba`` gets ``None`` for them rather than a misleading number.

Which metrics a task has, their directions and the default primary metric are declared by the
task's spec (:mod:`nnvsml.tasks`); the task-keyed functions here (:func:`score`,
:func:`metric_names`, :func:`default_primary_metric`, :data:`GREATER_IS_BETTER`) ask it.
The scoring functions themselves (:func:`classification_scores`, :func:`regression_scores`)
know nothing of tasks: the specs are built from them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np
from sklearn import metrics as skm

if TYPE_CHECKING:
    from nnvsml.tasks import TaskSpec

CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "log_loss",
)
REGRESSION_METRICS = ("rmse", "mae", "r2")


def _spec(task: str) -> TaskSpec:
    # Imported here: the specs are built from this module's scoring functions.
    from nnvsml.tasks import get_task

    return get_task(task)


class _Directions(Mapping):
    """metric -> whether greater is better, over every registered task's spec (read live, so a
    task registered later is included)."""

    def _table(self) -> dict[str, bool]:
        from nnvsml.tasks import directions

        return directions()

    def __getitem__(self, metric: str) -> bool:
        return self._table()[metric]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return repr(self._table())


#: Direction of every metric: the verdict and the leaderboard must never guess it. Declared by
#: the tasks' specs; a metric no spec declares raises ``KeyError``.
GREATER_IS_BETTER: Mapping[str, bool] = _Directions()


def metric_names(task: str) -> tuple[str, ...]:
    """The metrics of ``task``, in the order its spec declares them."""
    return _spec(task).metric_names


def score(task: str, y_true, y_pred, proba=None, classes=None) -> dict[str, float | None]:
    """Every metric of the task; ``None`` where it cannot be computed (with the reason logged)."""
    return _spec(task).score(y_true, y_pred, proba, classes)


def regression_scores(y_true, y_pred, proba=None, classes=None) -> dict[str, float | None]:
    """RMSE, MAE and R^2 (``proba`` and ``classes`` are ignored)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype=float)
    return {
        "rmse": _clean(math.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "mae": _clean(skm.mean_absolute_error(y_true, y_pred)),
        "r2": _clean(skm.r2_score(y_true, y_pred)),
    }


def classification_scores(y_true, y_pred, proba=None, classes=None) -> dict[str, float | None]:
    """Label metrics from ``y_pred``; ROC-AUC and log loss from ``proba`` (columns in the order
    of ``classes``), ``None`` without it."""
    y_true = np.asarray(y_true)
    with warnings.catch_warnings():
        # Precision of a class never predicted is 0 by definition here; sklearn warns about it.
        warnings.simplefilter("ignore")
        out = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
            "precision_macro": skm.precision_score(y_true, y_pred, average="macro", zero_division=0),
            "recall_macro": skm.recall_score(y_true, y_pred, average="macro", zero_division=0),
            "f1_macro": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
            "roc_auc": None,
            "log_loss": None,
        }
        if proba is not None and classes is not None:
            proba = np.asarray(proba, dtype=float)
            out["roc_auc"] = _roc_auc(y_true, proba, classes)
            out["log_loss"] = skm.log_loss(y_true, np.clip(proba, 1e-15, 1.0), labels=list(classes))
    return {k: _clean(v) for k, v in out.items()}


def _roc_auc(y_true, proba, classes) -> float | None:
    present = set(np.unique(y_true).tolist())
    if len(present) < 2:
        return None  # undefined on a fold that holds a single class
    if len(classes) == 2:
        return skm.roc_auc_score(y_true == classes[1], proba[:, 1])
    if len(present) < len(classes):
        # One-vs-rest over the classes actually present, renormalising their probabilities.
        keep = [i for i, c in enumerate(classes) if c in present]
        sub = proba[:, keep]
        sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-15, None)
        if len(keep) == 2:  # two classes present: a binary ROC on the second one's probability
            return skm.roc_auc_score(y_true == classes[keep[1]], sub[:, 1])
        return skm.roc_auc_score(y_true, sub, multi_class="ovr", labels=[classes[i] for i in keep])
    return skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=list(classes))


def _clean(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def default_primary_metric(task: str, class_shares: list[float] | None = None) -> tuple[str, str]:
    """The metric the comparison is decided on, and why it was chosen (the task's spec
    decides)."""
    return _spec(task).default_primary_metric(class_shares)
