"""The metrics every candidate is scored on, the same for both families.

ROC-AUC and log loss are computed from predicted probabilities, never from hard labels: a
model without ``predict_proba`` gets ``None`` for them rather than a misleading number.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn import metrics as skm

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

#: Direction of every metric: the verdict and the leaderboard must never guess it.
GREATER_IS_BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "precision_macro": True,
    "recall_macro": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}


def metric_names(task: str) -> tuple[str, ...]:
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


def score(task: str, y_true, y_pred, proba=None, classes=None) -> dict[str, float | None]:
    """Every metric of the task; ``None`` where it cannot be computed (with the reason logged)."""
    y_true = np.asarray(y_true)
    if task == "regression":
        y_pred = np.asarray(y_pred, dtype=float)
        return {
            "rmse": _clean(math.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": _clean(skm.mean_absolute_error(y_true, y_pred)),
            "r2": _clean(skm.r2_score(y_true, y_pred)),
        }
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
        return skm.roc_auc_score(y_true, sub, multi_class="ovr", labels=[classes[i] for i in keep])
    return skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=list(classes))


def _clean(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def default_primary_metric(task: str, class_shares: list[float] | None = None) -> tuple[str, str]:
    """The metric the comparison is decided on, and why it was chosen."""
    if task == "regression":
        return "rmse", "regression: root mean squared error"
    if class_shares and min(class_shares) < 0.10:
        return (
            "balanced_accuracy",
            f"the smallest class holds {min(class_shares):.1%} of rows, so plain accuracy would "
            "reward ignoring it",
        )
    return "accuracy", "classes are not strongly imbalanced"
