"""What an analysis works with inside its own process: the data, the two models to study, and
one way to refit and score them.

Refits use the hyperparameters the comparison chose (the tuning's best), train on rows of the
first fold's training part and are scored on that fold's validation part: the test rows are
never read. A network trains for as long as its final fit did, scaled to the rows it is given,
so an analysis sees the model the comparison measured, not a hastier one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnvsml import timing
from nnvsml.data.dataset import take
from nnvsml.models import BuildContext, Candidate
from nnvsml.models.steps import final_step, is_network
from nnvsml.tasks import TaskSpec, get_task

#: Validation rows scored per refit at most: enough for a stable mean, cheap for kNN and SVMs.
MAX_EVAL_ROWS = 5000


@dataclass
class Subject:
    """One model under study: its spec and its entry in results.json."""

    family: str
    candidate: Candidate
    entry: dict

    @property
    def name(self) -> str:
        return self.entry["name"]

    @property
    def fit_seconds(self) -> float:
        cost = self.entry.get("cost") or {}
        return float(cost.get("fit_seconds") or cost.get("wall_seconds") or 1.0)

    @property
    def stopped_by_time(self) -> bool:
        """Whether the comparison's final fit was cut by its clock (else it stopped on its
        own, and a refit needs no tighter clock than the analysis's)."""
        return (self.entry.get("training") or {}).get("stopped_by") == "time_limit"

    @property
    def params(self) -> dict:
        return dict((self.entry.get("tuning") or {}).get("best_params") or {})


@dataclass
class AnalysisContext:
    X: Any
    y: np.ndarray
    task: str
    classes: list | None
    kinds: dict
    modality: str
    info: dict
    metric: str
    seed: int
    train_rows: np.ndarray
    eval_rows: np.ndarray
    n_train: int
    subjects: dict[str, Subject]
    deadline: float | None
    timed: bool
    run_dir: str = "."
    send: Callable[[str, Any], None] = field(default=lambda kind, payload: None)
    #: Unsupervised runs: every row in the common space their metrics are computed in.
    space: np.ndarray | None = None

    # ---- time --------------------------------------------------------------------------------

    @property
    def spec(self) -> TaskSpec:
        """The task's spec: whether it has classes, is stratified, reads probabilities."""
        return get_task(self.task)

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def out_of_time(self) -> bool:
        """Whether too little time is left to start another refit."""
        return timing.out_of_time(self.left())

    def progress(self, message: str) -> None:
        self.send("progress", message)

    def partial(self, block: dict) -> None:
        """What the analysis has so far: kept if it runs out of time before it finishes."""
        self.send("result", block)

    def affordable_rows(self, fits: dict[str, float | list[float]],
                        share: float = timing.AFFORDABLE_SHARE, least: int = 50) -> int:
        """The most training rows the planned fits can use and all end in time.

        ``fits`` maps a family to its number of fits at that size, or to a list with one
        entry per fit: the share of the size that fit uses (a learning curve's smaller sizes).
        A fit takes time in proportion to its rows (as the comparison's fit did), but never
        less than the model's floor: a network trains a few epochs whatever the rows
        (:func:`nnvsml.timing.refits_cost`).
        """
        full = len(self.train_rows)
        if self.deadline is None:
            return full

        def cost(rows: float) -> float:
            total = 0.0
            for family, plan in fits.items():
                if family not in self.subjects:
                    continue
                subject = self.subjects[family]
                shares = plan if isinstance(plan, list) else [1.0] * int(round(plan))
                total += timing.refits_cost(subject.fit_seconds, self.n_train, rows, shares,
                                            subject.candidate.time_aware)
            return total

        return timing.affordable_rows(cost, self.left(), full, least, share)

    def fits_in_time(self, fits: dict[str, float | list[float]], rows: int,
                     share: float = timing.AFFORDABLE_SHARE) -> bool:
        return self.affordable_rows(fits, share, least=1) >= rows

    # ---- models ------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """One short fit of the network on a few rows, off the record: the first fit in a
        process pays for torch's thread pools and kernels, and would otherwise be cut short
        (or its time misread) as if it were the model's."""
        if "neural" not in self.subjects:
            return
        rows = self.sample(min(len(self.train_rows), 64), seed=99)
        est = self.build("neural", len(rows))
        if not is_network(final_step(est)):  # wrapped (self-training): no epochs to set
            return
        final_step(est).set_params(max_epochs=2, max_time=None)
        try:
            self.fit(est, take(self.X, rows), self.y[rows])
        except Exception:  # noqa: BLE001  (a warm-up only; the real fits report their errors)
            pass

    def build(self, family: str, rows: int, overrides: dict | None = None,
              fits_left: int = 1, kinds: dict | None = None):
        """The family's model, unfitted, with its chosen hyperparameters (``overrides`` on top:
        names of its search space), time-bounded like the comparison's fit on ``rows`` rows."""
        subject = self.subjects[family]
        max_time = None
        if self.timed and subject.candidate.time_aware:
            cap = (timing.refit_seconds(subject.fit_seconds, self.n_train, rows)
                   if subject.stopped_by_time else None)
            max_time = timing.per_refit(self.left(), fits_left, cap)
        ctx = BuildContext(task=self.task, kinds=kinds or self.kinds, n_train=rows, seed=self.seed,
                           max_time=max_time, modality=self.modality, info=self.info,
                           params={**subject.params, **(overrides or {})})
        return subject.candidate.build(ctx)

    def sample(self, n: int, seed: int = 0, rows: np.ndarray | None = None) -> np.ndarray:
        """``n`` of the training rows (stratified by class when the task is), seeded."""
        rows = self.train_rows if rows is None else rows
        if n >= len(rows):
            return rows
        rng = np.random.default_rng(self.seed * 1000 + seed)
        if not self.spec.stratified:
            return np.sort(rng.choice(rows, n, replace=False))
        labels = self.y[rows]
        picked = []
        values, counts = np.unique(labels, return_counts=True)
        quota = np.maximum(1, np.round(counts / counts.sum() * n)).astype(int)
        for value, k in zip(values, quota):
            members = rows[labels == value]
            picked.append(rng.choice(members, min(k, len(members)), replace=False))
        return np.sort(np.concatenate(picked))

    def fit(self, est, X, y):
        """Fit ``est`` on ``(X, y)``, or on ``X`` alone for an unsupervised task (its
        evaluation column never reaches a model)."""
        return est.fit(X, y) if self.spec.supervised else est.fit(X)

    def eval_rows_used(self) -> np.ndarray:
        """The validation rows the analyses score on: at most ``MAX_EVAL_ROWS``, seeded."""
        rows = self.eval_rows
        if len(rows) > MAX_EVAL_ROWS:
            rows = np.sort(np.random.default_rng(self.seed).choice(rows, MAX_EVAL_ROWS,
                                                                   replace=False))
        return rows

    def eval_set(self) -> tuple[Any, np.ndarray]:
        rows = self.eval_rows_used()
        return take(self.X, rows), self.y[rows]

    def score(self, est, X, y, rows: np.ndarray | None = None) -> float | None:
        """The run's primary metric of ``est`` on (X, y). An unsupervised task's metrics also
        read ``rows`` (the positions of X) in the common space."""
        if not self.spec.supervised:
            from nnvsml.unsupervised.outputs import outputs
            from nnvsml.unsupervised.scores import Outputs

            if self.space is None or rows is None:
                return None
            pred, second = outputs(est, self.task, X)
            value = self.spec.score(y, pred, Outputs(self.space[rows], second, None),
                                    self.classes).get(self.metric)
            return None if value is None else float(value)
        pred = est.predict(X)
        proba = None
        if self.spec.needs_proba and hasattr(est, "predict_proba"):
            proba = est.predict_proba(X)
        value = self.spec.score(y, pred, proba, self.classes).get(self.metric)
        return None if value is None else float(value)

    @property
    def higher_is_better(self) -> bool:
        return self.spec.greater_is_better[self.metric]

    def worse_by(self, before: float | None, after: float | None) -> float | None:
        """How much worse ``after`` is than ``before`` (positive = worse, whatever the metric's
        direction)."""
        if before is None or after is None:
            return None
        return (before - after) if self.higher_is_better else (after - before)
