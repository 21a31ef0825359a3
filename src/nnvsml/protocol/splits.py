"""One seeded train/test split and one set of folds, shared by every candidate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from nnvsml.data import Dataset
from nnvsml.errors import InputError
from nnvsml.metrics import GREATER_IS_BETTER, default_primary_metric, metric_names


@dataclass
class Protocol:
    """The rules every candidate is held to. ``train_idx``/``test_idx`` are row positions."""

    task: str
    seed: int
    test_fraction: float
    cv_folds: int
    budget_seconds: float
    primary_metric: str
    primary_metric_reason: str
    train_idx: np.ndarray
    test_idx: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    budget_rule: str = "equal_per_family"
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The ``protocol`` block of results.json."""
        return {
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "cv_folds": self.cv_folds,
            "budget_seconds": self.budget_seconds,
            "primary_metric": self.primary_metric,
            "primary_metric_reason": self.primary_metric_reason,
            "greater_is_better": GREATER_IS_BETTER[self.primary_metric],
            "budget_rule": self.budget_rule,
            "n_train": int(len(self.train_idx)),
            "n_test": int(len(self.test_idx)),
            "split": "stratified" if self.stratified else "random",
        }

    @property
    def stratified(self) -> bool:
        return self.task != "regression"

    def identity(self) -> dict:
        """What must match for a run directory to be resumed."""
        return {k: self.to_dict()[k] for k in ("seed", "test_fraction", "cv_folds", "primary_metric")}


MIN_TEST_ROWS = 2


def check_options(*, budget_seconds: float | None, cv_folds: int, test_fraction: float,
                  max_memory_mb: float | None = None) -> None:
    """Protocol options that are wrong whatever the data: checked before any data is read."""
    if max_memory_mb is not None and not max_memory_mb > 0:
        raise InputError(f"--max-memory-mb must be a positive number of MB, got {max_memory_mb:g}")
    if budget_seconds is not None and not (budget_seconds > 0 and math.isfinite(budget_seconds)):
        raise InputError(f"--budget must be a positive number of seconds, got {budget_seconds:g}")
    if not 2 <= cv_folds <= 20:
        raise InputError(f"--cv-folds must be between 2 and 20, got {cv_folds}")
    if not 0.05 <= test_fraction <= 0.5:
        raise InputError(f"--test-fraction must be between 0.05 and 0.5, got {test_fraction:g}")


def make_protocol(
    dataset: Dataset,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    cv_folds: int = 5,
    budget_seconds: float = 300.0,
    primary_metric: str | None = None,
) -> Protocol:
    """Split the rows once, for every candidate, and fold the training part once."""
    check_options(budget_seconds=budget_seconds, cv_folds=cv_folds, test_fraction=test_fraction)

    notices: list[str] = []
    y = dataset.y.to_numpy()
    classify = dataset.task != "regression"
    shares = None
    if classify:
        _, counts = np.unique(y, return_counts=True)
        shares = (counts / counts.sum()).tolist()
    if primary_metric is None:
        primary_metric, reason = default_primary_metric(dataset.task, shares)
    else:
        if primary_metric not in metric_names(dataset.task):
            raise InputError(
                f"--metric '{primary_metric}' does not apply to {dataset.task} tasks; "
                f"choose from: {', '.join(metric_names(dataset.task))}"
            )
        reason = "chosen by the user"

    n = len(y)
    n_test = int(round(n * test_fraction))
    if classify:
        n_classes = len(counts)
        # Stratification needs at least one test row per class.
        n_test = max(n_test, n_classes)
        if n - n_test < 2 * n_classes:
            raise InputError(
                f"too few rows to split ({n} rows, {n_classes} classes); collect more rows "
                "or lower --test-fraction"
            )
    if n_test < MIN_TEST_ROWS or n - n_test < 2 * cv_folds // 2 + 2:
        raise InputError(f"too few rows to split ({n}); need at least 10")

    positions = np.arange(n)
    train_idx, test_idx = train_test_split(
        positions, test_size=n_test, random_state=seed, stratify=y if classify else None
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)

    if classify:
        smallest = int(np.unique(y[train_idx], return_counts=True)[1].min())
        if smallest < cv_folds:
            if smallest < 2:
                raise InputError(
                    "a class has a single training row after the split; remove or merge rare classes"
                )
            notices.append(
                f"cv folds lowered from {cv_folds} to {smallest}: the rarest class has only "
                f"{smallest} training rows"
            )
            cv_folds = smallest
        splitter = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    folds = [
        (train_idx[a], train_idx[b])
        for a, b in splitter.split(np.zeros(len(train_idx)), y[train_idx] if classify else None)
    ]
    return Protocol(
        task=dataset.task,
        seed=seed,
        test_fraction=test_fraction,
        cv_folds=cv_folds,
        budget_seconds=float(budget_seconds),
        primary_metric=primary_metric,
        primary_metric_reason=reason,
        train_idx=train_idx,
        test_idx=test_idx,
        folds=folds,
        notices=notices,
    )
