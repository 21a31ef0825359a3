"""Uncertainty of the test-row scores: bootstrap intervals and paired tests between two models.

The test rows are scored once; resampling them (with replacement, 1,000 times) shows how much
each metric would move on another test set of the same size. Every metric is computed for all
resamples at once from resampling *weights*, so a 10,000-row test set costs well under a second
per model rather than 1,000 calls to scikit-learn. The definitions match :mod:`nnvsml.metrics`
(macro averages over the labels present, ROC-AUC one-vs-rest from probabilities).

Two models are compared on the same resamples (a paired bootstrap), and for classification by
McNemar's exact test on the rows one model gets right and the other wrong. Which metrics are
resampled, and which test gives the p-value, is the task's spec's to say (:mod:`nnvsml.tasks`).

Example
-------
>>> import numpy as np
>>> y = np.array([0, 1] * 50)
>>> ci = bootstrap_ci("binary", y, y, None, [0, 1])
>>> ci["accuracy"]
{'low': 1.0, 'high': 1.0}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from nnvsml.tasks import TaskSpec

N_RESAMPLES = 1_000
LEVEL = 0.95
_CHUNK = 100


def bootstrap_ci(task: str, y_true, y_pred, proba, classes, *, n_resamples: int = N_RESAMPLES,
                 level: float = LEVEL, seed: int = 0) -> dict[str, dict | None]:
    """Percentile bootstrap interval of every metric of ``task`` (None where undefined)."""
    spec = _spec(task)
    values = _resampled(spec, np.asarray(y_true), [(y_pred, proba)], classes, n_resamples, seed)
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    out = {}
    for name in spec.metric_names:
        v = values.get(name)
        if v is None or np.all(np.isnan(v[0])):
            out[name] = None
            continue
        low, high = np.nanpercentile(v[0], [lo, hi])
        out[name] = {"low": round(float(low), 6), "high": round(float(high), 6)}
    return out


def paired_test(task: str, metric: str, y_true, a: tuple, b: tuple, classes, *,
                n_resamples: int = N_RESAMPLES, level: float = LEVEL, seed: int = 0) -> dict:
    """Model ``a`` minus model ``b`` on the test rows, each given as ``(y_pred, proba)``.

    The difference of ``metric`` gets a paired bootstrap interval. The p-value comes from the
    task's paired test: McNemar's exact test for classification (do the two models err on
    different rows more often one way than the other?), the paired bootstrap's for regression.
    """
    spec = _spec(task)
    y_true = np.asarray(y_true)
    values = _resampled(spec, y_true, [a, b], classes, n_resamples, seed)[metric]
    diffs = values[0] - values[1]
    diffs = diffs[~np.isnan(diffs)]
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    low, high = (np.percentile(diffs, [lo, hi]) if len(diffs) else (np.nan, np.nan))
    out = {"metric": metric, "ci_low": float(low), "ci_high": float(high), "level": level,
           "resamples": int(len(diffs))}
    out["test"] = spec.paired_test.name
    out.update(spec.paired_test.run(y_true, a, b, diffs))
    return out


def _spec(task: str) -> TaskSpec:
    # Imported here: the specs are built from this module's functions.
    from nnvsml.tasks import get_task

    return get_task(task)


# ---- the paired tests' p-values (a task's spec names one) ------------------------------------

def bootstrap_p_value(y_true, a: tuple, b: tuple, diffs: np.ndarray) -> dict:
    """Two-sided p-value of the paired bootstrap: how often the resampled difference lands on
    the other side of zero."""
    share = min(np.mean(diffs <= 0), np.mean(diffs >= 0)) if len(diffs) else 0.5
    return {"p_value": float(min(1.0, 2 * (share * len(diffs) + 1) / (len(diffs) + 1)))}


def mcnemar(y_true, a: tuple, b: tuple, diffs: np.ndarray) -> dict:
    """McNemar's exact test: the binomial test on the rows exactly one of the models gets
    right."""
    y_true = np.asarray(y_true)
    right_a = np.asarray(a[0]) == y_true
    right_b = np.asarray(b[0]) == y_true
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    p = (stats.binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
         if only_a + only_b else 1.0)
    return {"p_value": float(p), "only_first_right": only_a, "only_second_right": only_b}


# ---- every metric over many resamples at once -----------------------------------------------

def _resampled(spec, y_true, models, classes, n_resamples, seed) -> dict[str, np.ndarray]:
    """metric -> array (n_models, n_resamples) over the same resamples for every model."""
    n = len(y_true)
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {}
    for start in range(0, n_resamples, _CHUNK):
        b = min(_CHUNK, n_resamples - start)
        idx = rng.integers(0, n, size=(b, n))
        # w[r, i]: how many times row i is drawn in resample r.
        w = np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n)
        w = w.reshape(b, n).astype(float)
        for name, vals in spec.resampled(y_true, models, classes, w).items():
            parts.setdefault(name, []).append(vals)
    return {name: np.concatenate(chunks, axis=1) for name, chunks in parts.items()}


def resampled_regression(y_true, models, classes, w) -> dict[str, np.ndarray]:
    """RMSE, MAE and R^2 of every model (``(y_pred, proba)``) under resampling weights ``w``
    (resamples x rows): metric -> array (n_models, n_resamples). ``classes`` is ignored."""
    return _regression(np.asarray(y_true, float), models, w)


def resampled_classification(y_true, models, classes, w) -> dict[str, np.ndarray]:
    """The classification metrics of every model under resampling weights ``w``, as
    :func:`resampled_regression` (``proba`` columns in the order of ``classes``)."""
    return _classification(np.asarray(y_true), models, list(classes), w)


def _regression(y, models, w):
    n = w.sum(axis=1)
    mean_y = w @ y / n
    sst = w @ (y ** 2) - n * mean_y ** 2
    out = {k: [] for k in ("rmse", "mae", "r2")}
    for y_pred, _ in models:
        err = y - np.asarray(y_pred, float)
        sse = w @ (err ** 2)
        out["rmse"].append(np.sqrt(sse / n))
        out["mae"].append(w @ np.abs(err) / n)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["r2"].append(np.where(sst > 0, 1 - sse / sst, np.nan))
    return {k: np.array(v) for k, v in out.items()}


def _classification(y_true, models, classes, w):
    k = len(classes)
    code = {c: i for i, c in enumerate(classes)}
    t = np.array([code.get(v, -1) for v in y_true.tolist()])
    names = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
             "roc_auc", "log_loss")
    out = {m: [] for m in names}
    n = w.sum(axis=1)
    for y_pred, proba in models:
        p = np.array([code.get(v, -1) for v in np.asarray(y_pred).tolist()])
        # Confusion matrices of every resample: (resamples, true, predicted).
        cells = t * k + p
        ok = (t >= 0) & (p >= 0)
        conf = np.stack([np.bincount(cells[ok], weights=row[ok], minlength=k * k)
                         for row in w]).reshape(len(w), k, k)
        diag = np.diagonal(conf, axis1=1, axis2=2)
        true_n, pred_n = conf.sum(axis=2), conf.sum(axis=1)
        present = (true_n + pred_n) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = np.where(true_n > 0, diag / true_n, 0.0)
            precision = np.where(pred_n > 0, diag / pred_n, 0.0)
            f1 = np.where(recall + precision > 0, 2 * recall * precision / (recall + precision), 0.0)
            out["accuracy"].append(diag.sum(axis=1) / n)
            out["balanced_accuracy"].append(
                np.where(true_n > 0, recall, 0).sum(axis=1) / (true_n > 0).sum(axis=1))
            n_present = present.sum(axis=1)
            out["recall_macro"].append(np.where(present, recall, 0).sum(axis=1) / n_present)
            out["precision_macro"].append(np.where(present, precision, 0).sum(axis=1) / n_present)
            out["f1_macro"].append(np.where(present, f1, 0).sum(axis=1) / n_present)
        if proba is None or np.size(proba) == 0:
            out["roc_auc"].append(np.full(len(w), np.nan))
            out["log_loss"].append(np.full(len(w), np.nan))
            continue
        proba = np.clip(np.asarray(proba, float), 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        rows = np.arange(len(t))
        loss = -np.log(np.where(t >= 0, proba[rows, np.clip(t, 0, None)], 1e-15))
        out["log_loss"].append(w @ loss / n)
        out["roc_auc"].append(_roc_auc(t, proba, k, w))
    return {m: np.array(v) for m, v in out.items()}


def _roc_auc(t, proba, k, w) -> np.ndarray:
    """One-vs-rest macro ROC-AUC of every resample (binary: the second class's score)."""
    present = [c for c in range(k) if np.any(t == c)]
    if len(present) < 2:
        return np.full(len(w), np.nan)
    if k == 2:
        return _binary_auc(t == 1, proba[:, 1], w)
    sub = proba[:, present]
    sub = sub / sub.sum(axis=1, keepdims=True)
    aucs = np.stack([_binary_auc(t == c, sub[:, j], w) for j, c in enumerate(present)])
    with np.errstate(invalid="ignore"):
        return np.nanmean(aucs, axis=0) if not np.all(np.isnan(aucs)) else aucs[0]


def _binary_auc(positive: np.ndarray, score: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney statistic: P(score of a positive > a negative's), ties half."""
    order = np.argsort(score, kind="mergesort")
    s, pos, ww = score[order], positive[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    wpos = np.add.reduceat(ww * pos, starts, axis=1)
    wneg = np.add.reduceat(ww * ~pos, starts, axis=1)
    below = np.cumsum(wneg, axis=1) - wneg
    num = (wpos * (below + 0.5 * wneg)).sum(axis=1)
    den = wpos.sum(axis=1) * wneg.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)
