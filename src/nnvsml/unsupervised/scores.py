"""How clusterings and anomaly scores are scored, on one test set and over bootstrap resamples.

A clustering or an anomaly detector predicts no label to compare with a target, so what it is
scored on travels beside its predictions as :class:`Outputs`: the rows in the *common space*
(the same encoding for every model, fitted on the training rows: see
:mod:`nnvsml.unsupervised.space`; a model is never judged in its own embedding, which would
favour it), its anomaly scores, and what a refit on a bootstrap resample of its training rows
predicted for the same rows (stability).

Internal metrics need no labels: silhouette, Davies-Bouldin and Calinski-Harabasz of the
clusters in the common space, and the stability of the clusters (adjusted Rand index between the
model and its refit) or of the anomaly ranking (Spearman's rho). External metrics read the
column given with ``--evaluate-with``, which no model ever sees: ARI, NMI and cluster accuracy
(the best one-to-one matching of clusters to classes, Hungarian) for clusters; ROC-AUC, average
precision and precision at the true anomaly count, all from the scores, for anomalies.

Every metric is also computed under bootstrap *weights* (resamples x rows) at once, as
:mod:`nnvsml.uncertainty` does for the supervised tasks; with weights of one the two agree with
scikit-learn (tested).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn import metrics as skm

#: Test rows the silhouette is computed on at most (a seeded sample, the same for every
#: model): its cost grows with the square of the rows, under each of 1,000 resamples.
SILHOUETTE_ROWS = 600
#: Label of a row a density method leaves in no cluster (DBSCAN / HDBSCAN's noise).
NOISE = -1


@dataclass(frozen=True)
class Outputs:
    """What an unsupervised model's predictions are scored with, beside its labels or flags.

    ``space``: the rows in the common space (rows x dims). ``scores``: anomaly scores, higher
    is more anomalous (None for a clustering). ``refit``: the labels (clustering) or scores
    (anomaly) a refit on a bootstrap resample of the training rows gave the same rows, or None.
    """

    space: np.ndarray
    scores: np.ndarray | None = None
    refit: np.ndarray | None = None

    def take(self, rows) -> Outputs:
        pick = (lambda a: None if a is None else np.asarray(a)[rows])
        return Outputs(np.asarray(self.space)[rows], pick(self.scores), pick(self.refit))


def has_truth(y_true) -> bool:
    """Whether an evaluation column came with the rows (no model saw it)."""
    y = np.asarray(y_true, dtype=object)
    return len(y) > 0 and not any(v is None or (isinstance(v, float) and math.isnan(v))
                                  for v in y.tolist())


# ---- one test set ------------------------------------------------------------------------------

def clustering_scores(y_true, labels, outputs: Outputs | None = None, classes=None
                      ) -> dict[str, float | None]:
    """Internal metrics of ``labels`` in ``outputs.space``; stability against
    ``outputs.refit``; ARI, NMI and cluster accuracy against ``y_true`` when it has values."""
    labels = np.asarray(labels)
    out = dict.fromkeys(CLUSTERING_METRICS)
    if outputs is not None:
        out.update(_internal(labels, np.asarray(outputs.space, float)))
        if outputs.refit is not None:
            out["stability_ari"] = _clean(skm.adjusted_rand_score(outputs.refit, labels))
    if has_truth(y_true):
        y = _codes(y_true)
        out["ari"] = _clean(skm.adjusted_rand_score(y, labels))
        out["nmi"] = _clean(skm.normalized_mutual_info_score(y, labels))
        out["cluster_accuracy"] = _clean(cluster_accuracy(y, labels))
    return out


def anomaly_scores(y_true, flags, outputs: Outputs | None = None, classes=None
                   ) -> dict[str, float | None]:
    """ROC-AUC, average precision and precision at the true anomaly count from the scores
    (``y_true``: 1 = anomaly), when an evaluation column came; the share flagged and the
    ranking's stability always."""
    flags = np.asarray(flags)
    out = dict.fromkeys(ANOMALY_METRICS)
    out["flagged_share"] = _clean(np.mean(flags == 1)) if len(flags) else None
    scores = None if outputs is None or outputs.scores is None else np.asarray(outputs.scores,
                                                                                float)
    if scores is not None and outputs.refit is not None and np.ptp(scores) > 0 \
            and np.ptp(outputs.refit) > 0:
        from scipy.stats import spearmanr

        out["stability_rho"] = _clean(spearmanr(scores, outputs.refit).statistic)
    if scores is not None and has_truth(y_true):
        y = np.asarray(y_true).astype(int)
        if 0 < y.sum() < len(y):
            out["roc_auc"] = _clean(skm.roc_auc_score(y, scores))
            out["average_precision"] = _clean(skm.average_precision_score(y, scores))
            top = np.argsort(-scores, kind="mergesort")[: int(y.sum())]
            out["precision_at_n"] = _clean(y[top].mean())
    return out


def cluster_accuracy(y, labels) -> float:
    """The share of rows whose cluster maps to their class under the best one-to-one matching
    of clusters to classes (Hungarian); rows of clusters left unmatched count as wrong."""
    return float(_accuracy_from(_contingency(_codes(y), _codes(labels))[None])[0])


def _internal(labels: np.ndarray, space: np.ndarray) -> dict[str, float | None]:
    keep = labels != NOISE
    lab, X = labels[keep], space[keep]
    n_clusters = len(np.unique(lab))
    if n_clusters < 2 or n_clusters >= len(lab):
        return {}  # undefined: one cluster, or every row its own
    rows = _silhouette_rows(len(lab))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sil = (skm.silhouette_score(X[rows], lab[rows])
               if len(np.unique(lab[rows])) >= 2 else None)
        return {"silhouette": _clean(sil),
                "davies_bouldin": _clean(skm.davies_bouldin_score(X, lab)),
                "calinski_harabasz": _clean(skm.calinski_harabasz_score(X, lab))}


def _silhouette_rows(n: int) -> np.ndarray:
    if n <= SILHOUETTE_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, SILHOUETTE_ROWS, replace=False))


# ---- over bootstrap resamples ------------------------------------------------------------------

def resampled_clustering(y_true, models, classes, w) -> dict[str, np.ndarray]:
    """Every clustering metric of every model (``(labels, Outputs)``) under resampling weights
    ``w`` (resamples x rows): metric -> array (n_models, n_resamples)."""
    truth = _codes(y_true) if has_truth(y_true) else None
    out = {m: [] for m in CLUSTERING_METRICS}
    for labels, outputs in models:
        lab = _codes(labels)
        noise = np.asarray(labels) == NOISE
        values = {m: np.full(len(w), np.nan) for m in CLUSTERING_METRICS}
        if outputs is not None:
            values.update(_weighted_internal(lab, noise, np.asarray(outputs.space, float), w))
            if outputs.refit is not None:
                values["stability_ari"] = _ari(_contingency_w(_codes(outputs.refit), lab, w))
        if truth is not None:
            table = _contingency_w(truth, lab, w)
            values["ari"] = _ari(table)
            values["nmi"] = _nmi(table)
            values["cluster_accuracy"] = _accuracy_from(table)
        for m in CLUSTERING_METRICS:
            out[m].append(values[m])
    return {m: np.array(v) for m, v in out.items()}


def resampled_anomaly(y_true, models, classes, w) -> dict[str, np.ndarray]:
    """Every anomaly metric of every model (``(flags, Outputs)``) under weights ``w``."""
    y = np.asarray(y_true).astype(int) if has_truth(y_true) else None
    total = w.sum(axis=1)
    out = {m: [] for m in ANOMALY_METRICS}
    for flags, outputs in models:
        values = {m: np.full(len(w), np.nan) for m in ANOMALY_METRICS}
        values["flagged_share"] = w @ (np.asarray(flags) == 1) / total
        scores = None if outputs is None or outputs.scores is None else np.asarray(
            outputs.scores, float)
        if scores is not None and outputs.refit is not None:
            values["stability_rho"] = _weighted_spearman(scores, np.asarray(outputs.refit,
                                                                              float), w)
        if scores is not None and y is not None and 0 < y.sum() < len(y):
            from nnvsml.uncertainty import _binary_auc

            values["roc_auc"] = _binary_auc(y == 1, scores, w)
            values["average_precision"], values["precision_at_n"] = _ranked(y == 1, scores, w)
        for m in ANOMALY_METRICS:
            out[m].append(values[m])
    return {m: np.array(v) for m, v in out.items()}


def _weighted_internal(lab: np.ndarray, noise: np.ndarray, X: np.ndarray, w: np.ndarray
                       ) -> dict[str, np.ndarray]:
    keep = ~noise
    lab, X, w = lab[keep], X[keep], w[:, keep]
    k = int(lab.max()) + 1 if len(lab) else 0
    out = {m: np.full(len(w), np.nan) for m in ("silhouette", "davies_bouldin",
                                                  "calinski_harabasz")}
    if k < 2:
        return out
    onehot = np.eye(k)[lab]  # rows x clusters
    counts = w @ onehot  # resamples x clusters
    n = w.sum(axis=1)
    sums = np.einsum("rn,nk,nd->rkd", w, onehot, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        centroids = sums / counts[:, :, None]
        overall = (w @ X) / n[:, None]
        present = counts > 0
        k_r = present.sum(axis=1)
        # Calinski-Harabasz: between / within dispersion, each over its degrees of freedom.
        between = np.nansum(counts * ((centroids - overall[:, None, :]) ** 2).sum(axis=2), axis=1)
        member_dist2 = ((X[None, :, :] - centroids[:, lab, :]) ** 2).sum(axis=2)  # r x n
        within = (w * member_dist2).sum(axis=1)
        ch = between * (n - k_r) / (within * (k_r - 1))
        out["calinski_harabasz"] = np.where((k_r >= 2) & (within > 0), ch, np.nan)
        # Davies-Bouldin: mean over clusters of the worst (s_i + s_j) / d(c_i, c_j).
        spread = np.einsum("rn,nk,rn->rk", w, onehot, np.sqrt(member_dist2)) / counts
        db = np.full(len(w), np.nan)
        for r in range(len(w)):
            p = present[r]
            if p.sum() < 2:
                continue
            c, s = centroids[r, p], spread[r, p]
            d = cdist(c, c)
            np.fill_diagonal(d, np.inf)
            ratio = (s[:, None] + s[None, :]) / d
            db[r] = np.mean(np.max(np.where(np.isfinite(ratio), ratio, 0.0), axis=1))
        out["davies_bouldin"] = db
    out["silhouette"] = _weighted_silhouette(lab, X, w, k)
    return out


def _weighted_silhouette(lab: np.ndarray, X: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    rows = _silhouette_rows(len(lab))
    lab, X, w = lab[rows], X[rows], w[:, rows]
    dist = cdist(X, X)
    onehot = np.eye(k)[lab]
    # to[r, i, c]: weighted sum of row i's distances to cluster c's rows in resample r.
    to = np.einsum("ij,rj,jc->ric", dist, w, onehot)
    counts = w @ onehot
    own = counts[:, lab]  # r x n: the size of each row's own cluster
    with np.errstate(divide="ignore", invalid="ignore"):
        a = to[:, np.arange(len(lab)), lab] / (own - 1)
        mean_to = to / counts[:, None, :]
        mean_to[:, np.arange(len(lab)), lab] = np.inf
        mean_to = np.where(counts[:, None, :] > 0, mean_to, np.inf)
        b = mean_to.min(axis=2)
        s = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
        s = np.where(np.isfinite(s), s, 0.0)
        value = (w * s).sum(axis=1) / w.sum(axis=1)
        n_present = (counts > 0).sum(axis=1)
    return np.where(n_present >= 2, value, np.nan)


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1.0)
    return table


def _contingency_w(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted contingency tables of every resample: (resamples, a's codes, b's codes)."""
    ka, kb = a.max() + 1, b.max() + 1
    return np.einsum("rn,na,nb->rab", w, np.eye(ka)[a], np.eye(kb)[b])


def _comb2(x):
    return x * (x - 1) / 2.0


def _ari(table: np.ndarray) -> np.ndarray:
    n = table.sum(axis=(1, 2))
    index = _comb2(table).sum(axis=(1, 2))
    rows, cols = _comb2(table.sum(axis=2)).sum(axis=1), _comb2(table.sum(axis=1)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = rows * cols / _comb2(n)
        top = 0.5 * (rows + cols)
        value = (index - expected) / (top - expected)
    # Both partitions trivial (one cluster each): identical, ARI 1 (scikit-learn's convention).
    return np.where(top == expected, 1.0, value)


def _nmi(table: np.ndarray) -> np.ndarray:
    n = table.sum(axis=(1, 2))[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = table / n
        pa, pb = p.sum(axis=2), p.sum(axis=1)
        mi = np.nansum(np.where(p > 0, p * np.log(p / (pa[:, :, None] * pb[:, None, :])), 0.0),
                       axis=(1, 2))
        ha = -np.nansum(np.where(pa > 0, pa * np.log(pa), 0.0), axis=1)
        hb = -np.nansum(np.where(pb > 0, pb * np.log(pb), 0.0), axis=1)
        value = mi / (0.5 * (ha + hb))
    return np.where((ha == 0) & (hb == 0), 1.0, np.where((ha == 0) | (hb == 0), 0.0, value))


def _accuracy_from(table: np.ndarray) -> np.ndarray:
    out = np.empty(len(table))
    for r, t in enumerate(table):
        i, j = linear_sum_assignment(t, maximize=True)
        out[r] = t[i, j].sum() / t.sum() if t.sum() else np.nan
    return out


def _ranked(positive: np.ndarray, scores: np.ndarray, w: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average precision (scikit-learn's step-wise definition, ties as one threshold)
    and precision at the resample's anomaly count, for every resample."""
    order = np.argsort(-scores, kind="mergesort")
    s, pos, ww = scores[order], positive[order], w[:, order]
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # last row of each tie group
    tp = np.cumsum(ww * pos, axis=1)
    seen = np.cumsum(ww, axis=1)
    total_pos = tp[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        tp_t, seen_t = tp[:, ends], seen[:, ends]
        precision = np.where(seen_t > 0, tp_t / seen_t, 0.0)
        recall_step = np.diff(np.c_[np.zeros(len(w)), tp_t], axis=1) / total_pos[:, None]
        ap = (recall_step * precision).sum(axis=1)
        # Precision among the first rows (by score) whose weight reaches the anomaly count.
        at = np.array([np.searchsorted(seen[r], total_pos[r]) for r in range(len(w))])
        at = np.clip(at, 0, seen.shape[1] - 1)
        p_at_n = tp[np.arange(len(w)), at] / seen[np.arange(len(w)), at]
    bad = total_pos <= 0
    return np.where(bad, np.nan, ap), np.where(bad, np.nan, p_at_n)


def _weighted_spearman(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spearman's rho under weights: the weighted Pearson correlation of the rows' ranks."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)
    n = w.sum(axis=1)
    ma, mb = w @ ra / n, w @ rb / n
    cov = w @ (ra * rb) / n - ma * mb
    va, vb = w @ (ra ** 2) / n - ma ** 2, w @ (rb ** 2) / n - mb ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((va > 0) & (vb > 0), cov / np.sqrt(va * vb), np.nan)


def _codes(values) -> np.ndarray:
    """Any labels as codes 0..k-1 (noise is a label of its own)."""
    return np.unique(np.asarray(values).astype(str), return_inverse=True)[1].ravel()


def _clean(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


CLUSTERING_METRICS = ("silhouette", "davies_bouldin", "calinski_harabasz", "stability_ari",
                      "ari", "nmi", "cluster_accuracy")
ANOMALY_METRICS = ("roc_auc", "average_precision", "precision_at_n", "stability_rho",
                   "flagged_share")
