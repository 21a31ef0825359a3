"""Meta-estimators that bound what a traditional model costs and make it usable on any data.

:class:`TimeBounded` lets an ensemble stop adding members when the seconds it was given are
spent, so a time-aware forest or boosting candidate ends inside ``ctx.max_time`` the way the
networks stop at their epoch limit, and keeps every member it finished rather than being killed.
:class:`Subsampled` caps the training rows of a model whose cost grows faster than linearly
(an exact kernel SVM), on a stratified sample so every class keeps its share.
:class:`Calibrated` gives probabilities to a classifier that has none (SVMs, ridge), and still
works when a class has too few training rows for the calibration folds.
"""

from __future__ import annotations

import os
import time

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if

#: Up to this many rows :class:`Calibrated` calibrates on folds, above it on one held-out part.
CALIBRATION_CV_MAX_ROWS = 5_000
CALIBRATION_HOLDOUT = 0.2

#: The smallest warm-start step of a forest: fewer trees per step and the timing of a step says
#: little, while the overhead of each warm-start call (checking the data again) adds up.
MIN_FOREST_STEP = 8


def _inner_has(name: str):
    return lambda self: hasattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, name)


class _Delegating(MetaEstimatorMixin, BaseEstimator):
    """Predicts with the fitted ``estimator_`` and carries the inner estimator's tags, so a
    Pipeline ending in it is a classifier (or regressor) wherever scikit-learn asks."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags = inner.input_tags
        return tags

    def _adopt(self, est) -> None:
        self.estimator_ = est
        for attr in ("classes_", "n_features_in_", "feature_names_in_"):
            if hasattr(est, attr):
                setattr(self, attr, getattr(est, attr))

    def predict(self, X):
        return self.estimator_.predict(X)

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        return self.estimator_.decision_function(X)

    @available_if(_inner_has("score"))
    def score(self, X, y, sample_weight=None):
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    @property
    def feature_importances_(self):
        return self.estimator_.feature_importances_


class TimeBounded(_Delegating):
    """Fit an ensemble (LightGBM or a scikit-learn forest) for at most ``max_time`` seconds.

    LightGBM gets a callback that ends boosting when the next round, expected to last as long as
    the last one, would end after ``max_time``; a forest (anything with ``warm_start`` and
    ``n_estimators``) grows ``step`` trees at a time (default ``2 * n_jobs``, at least 8) until it
    has ``n_estimators`` or the next step, timed from the last, would pass ``max_time``. Other
    estimators, and ``max_time=None``, are fitted plainly.

    Attributes (after ``fit``): ``estimator_``, ``classes_`` (classifiers), ``n_features_in_``,
    ``n_members_`` (trees of a forest, boosting rounds of LightGBM, actually trained),
    ``stopped_by_time_`` and ``stopped_by_`` (``"time_limit"`` or ``"max_members"``, the word the
    networks use for why training ended).
    """

    def __init__(self, estimator, max_time: float | None = None, step: int | None = None):
        self.estimator = estimator
        self.max_time = max_time
        self.step = step

    def fit(self, X, y, **fit_params):
        start = time.perf_counter()
        est = clone(self.estimator)
        stopped = False
        if self.max_time is None:
            est.fit(X, y, **fit_params)
        elif is_lightgbm(est):
            clock = _LightGBMClock(start, float(self.max_time))
            callbacks = list(fit_params.pop("callbacks", None) or []) + [clock]
            est.fit(X, y, callbacks=callbacks, **fit_params)
            stopped = clock.stopped
        elif hasattr(est, "warm_start") and hasattr(est, "n_estimators"):
            stopped = self._grow_forest(est, X, y, start, fit_params)
        else:
            est.fit(X, y, **fit_params)
        self._adopt(est)
        self.n_members_ = _n_members(est)
        self.stopped_by_time_ = bool(stopped)
        self.stopped_by_ = "time_limit" if stopped else "max_members"
        return self

    @available_if(lambda self: is_lightgbm(self.estimator))
    def stream_fit(self, chunks, y, *, reference, batch_size: int, max_time: float | None = None):
        """Boost again, with the fitted parameters, on every row of ``chunks`` (a callable giving
        (encoded rows, target) pairs in order; ``y`` all their targets) without holding them
        together: see :mod:`nnvsml.models.lightgbm_stream`. ``reference`` is the (rows, target)
        of the first fit, whose bins are kept. ``max_time`` bounds the boosting as in ``fit``."""
        from nnvsml.models import lightgbm_stream

        stopped = lightgbm_stream.refit(self.estimator_, reference, chunks, y,
                                        batch_size=batch_size,
                                        max_time=self.max_time if max_time is None else max_time,
                                        clock=_LightGBMClock)
        self.n_members_ = _n_members(self.estimator_)
        self.stopped_by_time_ = stopped
        self.stopped_by_ = "time_limit" if stopped else "max_members"
        return self

    def _grow_forest(self, est, X, y, start: float, fit_params: dict) -> bool:
        target = int(est.n_estimators)
        n_jobs = est.get_params().get("n_jobs") or 1
        if n_jobs < 0:
            n_jobs = max(1, (os.cpu_count() or 1) + 1 + n_jobs)
        step = int(self.step) if self.step else max(MIN_FOREST_STEP, 2 * n_jobs)
        n, last_step_seconds = 0, 0.0
        est.set_params(warm_start=True)
        while n < target:
            size = min(step, target - n)
            elapsed = time.perf_counter() - start
            # The first step always runs: a forest with no tree cannot predict.
            if n and elapsed + last_step_seconds * size / last_size > self.max_time:
                break
            t0 = time.perf_counter()
            est.set_params(n_estimators=n + size)
            est.fit(X, y, **fit_params)
            last_step_seconds, last_size = time.perf_counter() - t0, size
            n += size
        est.set_params(warm_start=False)
        return n < target


def time_bound_notes(ctx) -> dict:
    """The ``notes`` of a candidate built around :class:`TimeBounded`: the seconds it was given."""
    if ctx.max_time is None:
        return {"time_bound": "none: all members trained"}
    return {"time_bound": f"stops adding members after {ctx.max_time:.1f} s of training"}


class _LightGBMClock:
    """LightGBM callback: stop boosting when the next round would end after ``max_time``.

    Raising ``EarlyStopException`` at round ``i`` keeps rounds ``0..i`` (LightGBM then predicts
    with exactly the rounds it trained)."""

    order = 30  # after LightGBM's own callbacks (early stopping is 30 as well, logging 10)

    def __init__(self, start: float, max_time: float):
        self.start, self.max_time = start, max_time
        self.last = None
        self.stopped = False

    def __call__(self, env) -> None:
        from lightgbm.callback import EarlyStopException

        now = time.perf_counter()
        if self.last is None:
            # The first round also built LightGBM's binned dataset: it says nothing of how long
            # a round takes, so the estimate starts at the second.
            self.last = now
            return
        round_seconds = now - self.last
        self.last = now
        if env.iteration + 1 >= env.end_iteration:
            return
        if now - self.start + round_seconds > self.max_time:
            self.stopped = True
            raise EarlyStopException(env.iteration, env.evaluation_result_list or [])


def is_lightgbm(est) -> bool:
    return type(est).__module__.startswith("lightgbm")


def _n_members(est) -> int:
    if is_lightgbm(est):
        return int(est.booster_.current_iteration())
    if hasattr(est, "estimators_"):
        return len(est.estimators_)
    return int(getattr(est, "n_estimators", 1))


class Subsampled(_Delegating):
    """Fit ``estimator`` on a stratified random sample of at most ``max_rows`` training rows.

    For models whose training cost grows with the square of the rows or faster: the sample keeps
    every class's share (a class with one row keeps it). ``X`` may be any array whose first axis
    is the rows. Attributes (after ``fit``): ``estimator_``, ``classes_``, ``n_rows_used_``.
    """

    def __init__(self, estimator, max_rows: int = 10_000, random_state: int | None = 0):
        self.estimator = estimator
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, X, y, **fit_params):
        y = np.asarray(y)
        rows = np.arange(len(y))
        if len(y) > self.max_rows:
            _, counts = np.unique(y, return_counts=True)
            # Stratifying needs two rows per class; a rarer class makes the sample a plain one.
            stratify = y if counts.min() >= 2 else None
            rows, _ = train_test_split(rows, train_size=self.max_rows, stratify=stratify,
                                       random_state=self.random_state)
            rows = np.sort(rows)
        est = clone(self.estimator)
        est.fit(X[rows] if len(rows) < len(y) else X, y[rows], **fit_params)
        self._adopt(est)
        self.n_rows_used_ = int(len(rows))
        return self


class Calibrated(_Delegating):
    """``estimator`` with probabilities calibrated on held-out scores. ``method="sigmoid"`` is
    Platt scaling; ``"temperature"`` scales all classes' scores by one learned factor, which
    keeps the classifier's own predictions.

    Up to ``max_cv_rows`` training rows, ``CalibratedClassifierCV`` with ``cv`` folds and
    ``ensemble=False``: the calibrator is fitted on out-of-fold scores and the classifier refitted
    on all rows, ``cv + 1`` fits in all. Above it, one fit: the classifier trains on a stratified
    ``1 - holdout`` of the rows and the calibrator on the rest. On tens of thousands of rows the
    held-out part is plenty for a calibrator of one or two parameters per class, and the
    classifier loses little by not seeing it, while ``cv + 1`` fits of an SVM cost four times as
    much (MNIST's 48,000 training images: a linear SVM's calibrated fit ran past its 92 s share;
    one fit on 38,400 rows takes 26 s).

    The folds shrink to the rarest class's row count when it has fewer than ``cv`` rows; with a
    single row there is nothing to calibrate on, and the probabilities are the softmax of the
    raw scores. Attributes (after ``fit``): ``calibration_`` (``"3-fold"``, ``"holdout 20%"`` or
    ``"none"``), ``calibration_folds_`` (0 unless folds were used).
    """

    def __init__(self, estimator, method: str = "sigmoid", cv: int = 3,
                 max_cv_rows: int = CALIBRATION_CV_MAX_ROWS, holdout: float = CALIBRATION_HOLDOUT, random_state: int | None = 0):
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.max_cv_rows = max_cv_rows
        self.holdout = holdout
        self.random_state = random_state

    def fit(self, X, y, **fit_params):
        y = np.asarray(y)
        _, counts = np.unique(y, return_counts=True)
        folds = min(int(self.cv), int(counts.min()))
        n_holdout = int(round(self.holdout * len(y)))
        if len(y) > self.max_cv_rows and n_holdout >= 2 * len(counts) and counts.min() >= 2:
            rows = np.arange(len(y))
            fit_rows, cal_rows = train_test_split(rows, test_size=n_holdout, stratify=y,
                                                  random_state=self.random_state)
            fit_rows, cal_rows = np.sort(fit_rows), np.sort(cal_rows)
            inner = clone(self.estimator).fit(X[fit_rows], y[fit_rows], **fit_params)
            est = self._calibrated(lambda method: CalibratedClassifierCV(
                FrozenEstimator(inner), method=method).fit(X[cal_rows], y[cal_rows]))
            self.calibration_, folds = f"holdout {self.holdout:.0%}", 0
        elif folds >= 2:
            est = self._calibrated(lambda method: CalibratedClassifierCV(
                clone(self.estimator), method=method, cv=folds, ensemble=False).fit(
                    X, y, **fit_params))
            self.calibration_ = f"{folds}-fold"
        else:
            est, folds = clone(self.estimator).fit(X, y, **fit_params), 0
            self.calibration_ = self.calibration_method_ = "none"
        self._adopt(est)
        self.calibration_folds_ = folds
        return self

    def _calibrated(self, fit):
        """``fit(method)`` with this calibrator's method, or with Platt scaling when temperature
        scaling finds no finite factor (scores that separate the held-out rows perfectly drive
        it to infinity: scikit-learn raises "NaN result encountered", seen on a UCR set's
        ROCKET ridge under load). ``calibration_method_`` says which was used."""
        self.calibration_method_ = self.method
        try:
            return fit(self.method)
        except RuntimeError as exc:
            if self.method != "temperature":
                raise
            self.calibration_method_ = f"sigmoid (temperature scaling failed: {exc})"[:200]
            return fit("sigmoid")

    def predict_proba(self, X):
        if hasattr(self.estimator_, "predict_proba"):
            return self.estimator_.predict_proba(X)
        scores = np.asarray(self.estimator_.decision_function(X), dtype=np.float64)
        if scores.ndim == 1:
            scores = np.stack([-scores, scores], axis=1)
        return softmax(scores, axis=1)


def svm_sample_notes(n_train: int, max_rows: int, unit: str = "rows") -> dict:
    """The large-data rule of a subsampled, calibrated SVM (:class:`Subsampled` around
    :class:`Calibrated` with its defaults), as recorded in the results: how many rows the SVM
    sees and how its probabilities were calibrated."""
    sampled = min(n_train, max_rows)
    sample = "all used" if sampled == n_train else f"a stratified random sample of {sampled:,}"
    if sampled <= CALIBRATION_CV_MAX_ROWS:
        fitted, calibration = sampled, "Platt scaling on 3 folds, then refit on all of them"
    else:
        fitted = sampled - int(round(CALIBRATION_HOLDOUT * sampled))
        calibration = (f"{fitted:,} train the SVM, {sampled - fitted:,} held out for Platt "
                       "scaling")
    return {"svm_rows": fitted,
            "svm_rule": f"{n_train:,} training {unit}: {sample}; {calibration} (exact RBF SVM)"}

