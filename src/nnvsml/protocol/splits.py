"""One seeded train/test split and one set of folds, shared by every candidate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from nnvsml.data import Dataset
from nnvsml.errors import InputError
from nnvsml.metrics import GREATER_IS_BETTER, default_primary_metric, metric_names
from nnvsml.tasks import get_task
from nnvsml.unsupervised.scores import has_truth


@dataclass
class Protocol:
    """The rules every candidate is held to. ``train_idx``/``test_idx`` are row positions."""

    task: str
    seed: int
    test_fraction: float
    cv_folds: int
    #: None: no wall-clock cap (only with ``--trials``).
    budget_seconds: float | None
    primary_metric: str
    primary_metric_reason: str
    train_idx: np.ndarray
    test_idx: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    budget_rule: str = "equal_per_family"
    #: ``cv``: k folds, then a refit on all training rows. ``holdout``: one validation part; the
    #: model fitted on the rest is the one scored on the test rows (see ``HOLDOUT_MIN_ROWS``).
    validation: str = "cv"
    #: Where the train/test split came from: ``stratified``/``random`` (drawn here, seeded) or
    #: ``given`` (shipped with the data, e.g. MNIST's files or the UCR archive's TRAIN/TEST).
    split: str = "stratified"
    notices: list[str] = field(default_factory=list)
    #: The rows every candidate's tuning trials fit on and are scored on (see :func:`tuning_split`).
    tuning_split: tuple[np.ndarray, np.ndarray] | None = None
    #: The tuning strategy (``--search``) and trials per candidate (``--trials``, None: by time).
    search: str = "none"
    trials: int | None = None

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
            "search": self.search,
            "trials": self.trials,
            "n_train": int(len(self.train_idx)),
            "n_test": int(len(self.test_idx)),
            "split": self.split,
            "validation": self.validation,
            "n_validation": int(sum(len(va) for _, va in self.folds)),
            "n_tuning": ({"train": int(len(self.tuning_split[0])),
                          "validation": int(len(self.tuning_split[1]))}
                         if self.tuning_split is not None else None),
        }

    @property
    def stratified(self) -> bool:
        return get_task(self.task).stratified

    def identity(self) -> dict:
        """What must match for a run directory to be resumed."""
        return {k: self.to_dict()[k]
                for k in ("seed", "test_fraction", "cv_folds", "primary_metric", "validation",
                          "search", "trials")}


MIN_TEST_ROWS = 2
VALIDATIONS = ("auto", "cv", "holdout")
#: From this many training rows on, ``validation="auto"`` holds one part out instead of k-fold
#: cross-validation: k+1 fits of a network on 50,000 images cost more than the whole budget, and
#: with this many rows one validation part already measures a score to a fraction of a percent.
HOLDOUT_MIN_ROWS = 30_000
#: Share of the training rows held out for validation under ``holdout``.
HOLDOUT_FRACTION = 0.2
#: The validation part is scored in this many equal blocks, so the verdict can pair two models'
#: scores block by block (a paired test over disjoint rows, see :mod:`nnvsml.verdict`).
HOLDOUT_BLOCKS = 10


def make_protocol(
    dataset: Dataset,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    cv_folds: int = 5,
    budget_seconds: float = 300.0,
    primary_metric: str | None = None,
    validation: str = "auto",
) -> Protocol:
    """Split the rows once, for every candidate, and fold the training part once.

    A split that came with the data (``dataset.split``) is kept as it is; ``test_fraction`` then
    reports its actual share of the rows. The options arrive checked (their rules are declared
    in :class:`nnvsml.config.RunConfig`); what depends on the data (the metric) is checked here.
    """
    notices: list[str] = []
    y = dataset.y.to_numpy()
    spec = get_task(dataset.task)
    # Unsupervised with an evaluation column: the split and folds keep its shares (a random
    # split of 2% anomalies can leave the test rows without one). No model sees the column;
    # it only decides which rows are held out.
    classify = spec.stratified or (not spec.supervised and has_truth(y))
    if classify and not spec.supervised:
        y = y.astype(str)
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
        needs = next(m for m in spec.metrics if m.name == primary_metric).needs_truth
        if needs and shares is None:
            raise InputError(f"--metric '{primary_metric}' is scored against an evaluation "
                             "column; pass --evaluate-with COLUMN or choose another metric")

    n = len(y)
    if dataset.split is not None:
        train_idx, test_idx = (np.sort(np.asarray(part, dtype=np.int64)) for part in dataset.split)
        test_fraction = round(len(test_idx) / n, 4)
        split = "given"
        if dataset.stream is not None:  # drawn over the whole table as it was read in batches
            sampling = dataset.stream["sampling"]
            test_fraction = round(sampling["test_rows"] / sampling["rows"], 4)
            split = "stratified" if classify else "random"
        if classify:
            missing = sorted(set(np.unique(y)) - set(np.unique(y[train_idx])), key=str)
            if missing:
                raise InputError(
                    f"class(es) {', '.join(map(str, missing[:5]))} appear only in the data's test "
                    "part; no model can learn them: move examples into the training part"
                )
    else:
        train_idx, test_idx = _draw_split(y, n, test_fraction, seed, classify, cv_folds)
        split = "stratified" if classify else "random"

    if validation == "auto":
        validation = "holdout" if len(train_idx) >= HOLDOUT_MIN_ROWS else "cv"
    if validation == "holdout":
        fit_rows, valid_rows = train_test_split(
            train_idx, test_size=HOLDOUT_FRACTION, random_state=seed,
            stratify=y[train_idx] if classify else None)
        folds = [(np.sort(fit_rows), np.sort(valid_rows))]
        notices.append(
            f"validation on one held-out part ({len(valid_rows)} of the {len(train_idx)} training "
            f"rows) instead of {cv_folds}-fold cross-validation: the model fitted on the other "
            "rows is the one tested"
        )
        cv_folds = 1
    else:
        cv_folds, folds = _folds(y, train_idx, cv_folds, seed, classify, notices)
    return Protocol(
        tuning_split=tuning_split(y, folds[0][0], seed, classify),
        task=dataset.task,
        seed=seed,
        test_fraction=test_fraction,
        cv_folds=cv_folds,
        budget_seconds=None if budget_seconds is None else float(budget_seconds),
        primary_metric=primary_metric,
        primary_metric_reason=reason,
        train_idx=train_idx,
        test_idx=test_idx,
        folds=folds,
        validation=validation,
        split=split,
        notices=notices,
    )


def _draw_split(y: np.ndarray, n: int, test_fraction: float, seed: int, classify: bool,
                cv_folds: int) -> tuple[np.ndarray, np.ndarray]:
    n_test = int(round(n * test_fraction))
    if classify:
        n_classes = len(np.unique(y))
        # Stratification needs at least one test row per class.
        n_test = max(n_test, n_classes)
        if n - n_test < 2 * n_classes:
            raise InputError(
                f"too few rows to split ({n} rows, {n_classes} classes); collect more rows "
                "or lower --test-fraction"
            )
    if n_test < MIN_TEST_ROWS or n - n_test < 2 * cv_folds // 2 + 2:
        raise InputError(f"too few rows to split ({n}); need at least 10")
    train_idx, test_idx = train_test_split(
        np.arange(n), test_size=n_test, random_state=seed, stratify=y if classify else None
    )
    return np.sort(train_idx), np.sort(test_idx)


#: Share of the first fold's training rows the tuning trials are scored on.
TUNING_VALIDATION = 0.2


def tuning_split(y: np.ndarray, rows: np.ndarray, seed: int,
                 classify: bool) -> tuple[np.ndarray, np.ndarray]:
    """A seeded 80/20 split of the first fold's training rows for every candidate's trials.

    Trials never see the test rows nor that fold's validation rows; the other folds' validation
    rows are among them, which biases cross-validated scores of tuned models slightly upward,
    the same for both families (nested cross-validation would remove it at k times the cost).
    """
    labels = y[rows]
    stratify = None
    if classify and np.unique(labels, return_counts=True)[1].min() >= 2:
        n_valid = math.ceil(TUNING_VALIDATION * len(rows))
        if n_valid >= len(np.unique(labels)) and len(rows) - n_valid >= len(np.unique(labels)):
            stratify = labels
    fit, valid = train_test_split(rows, test_size=TUNING_VALIDATION, random_state=seed,
                                  stratify=stratify)
    return np.sort(fit), np.sort(valid)


def _folds(y: np.ndarray, train_idx: np.ndarray, cv_folds: int, seed: int, classify: bool,
           notices: list[str]) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
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
    return cv_folds, folds
