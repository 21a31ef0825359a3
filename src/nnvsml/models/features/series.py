"""Time-series features and a distance-based classifier for traditional models.

Input is nnvsml's sequence layout, float32 ``(n, channels, length)``, a series shorter than
``length`` NaN-padded at the end.

- :class:`SummaryFeatures`: 16 NaN-aware statistics per channel plus the series length.
- :class:`Rocket`: ROCKET random convolutional kernels (Dempster, Petitjean & Webb 2020).
- :class:`DTWNeighbors`: the 1-nearest-neighbour classifier under dynamic time warping, the
  classic baseline of time-series classification.

ROCKET and DTW run as numba kernels written here from the papers' descriptions. pyts has both,
but it compiles all its numba functions eagerly and uncached when imported: importing
``pyts.transformation`` took ~50 s and ``pyts.metrics`` ~35 s in every process, and its DTW
1-NN costs ~1.2 ms of Python per pair of series (11 s on GunPoint, 112 s on ItalyPowerDemand).
The kernels here compile lazily once and are cached on disk (``cache=True``).
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from nnvsml.errors import InputError

STAT_NAMES = ("mean", "std", "min", "max", "q05", "q25", "q50", "q75", "q95", "skewness",
              "kurtosis", "slope", "mean_abs_diff", "autocorr_lag1", "argmax_pos", "argmin_pos")
QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)

# numba's default OpenMP threads and torch's spin against each other: after one parallel ROCKET
# or DTW call, a network trained in the same process (a run's evidence, the test suite) ran 4 to
# 9 times slower. The workqueue layer has threads of its own; it must not be entered by two
# threads at once (a service answers requests from a thread pool), hence the lock.
numba.config.THREADING_LAYER = "workqueue"
_PARALLEL = threading.Lock()


def _check_series(X, fitted: tuple | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3:
        raise InputError(
            f"series must be an array (n, channels, length), got shape {X.shape}; "
            "load them with nnvsml's sequence readers"
        )
    if fitted is not None and X.shape[1] != fitted[0]:
        raise InputError(
            f"series with {X.shape[1]} channels differ from the {fitted[0]} the model was "
            "trained on"
        )
    return X


def valid_lengths(X: np.ndarray) -> np.ndarray:
    """Per series, one past the last timestamp where any channel has a value."""
    observed = ~np.isnan(X).all(axis=1)  # (n, T)
    T = X.shape[2]
    last = T - np.argmax(observed[:, ::-1], axis=1)
    return np.where(observed.any(axis=1), last, 0).astype(np.int64)


def fill_gaps(X: np.ndarray) -> np.ndarray:
    """NaN replaced by the last value before it (the first value for leading NaN, 0 for an
    empty channel): the padding of a shorter series holds its last value, so kernels sliding
    past its end see a flat line rather than a jump to zero. Equal-length data is unchanged."""
    X = np.array(X, dtype=np.float64)
    if not np.isnan(X).any():
        return X
    n, C, T = X.shape
    flat = X.reshape(n * C, T)
    valid = ~np.isnan(flat)
    idx = np.where(valid, np.arange(T), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = flat[np.arange(n * C)[:, None], idx]
    first = np.argmax(valid, axis=1)
    lead = np.isnan(filled)
    filled[lead] = np.broadcast_to(flat[np.arange(n * C), first][:, None], filled.shape)[lead]
    return np.nan_to_num(filled, nan=0.0).reshape(n, C, T)


class SummaryFeatures(TransformerMixin, BaseEstimator):
    """Per channel: mean, std, min, max, 5/25/50/75/95 % quantiles, skewness, excess kurtosis,
    least-squares slope, mean absolute first difference, lag-1 autocorrelation and the relative
    positions (0..1) of the maximum and minimum, all over the observed values only (NaN padding
    and gaps are ignored); then the series length, once, since it is shared by the channels.

    Degenerate cases are 0, not NaN: the shape statistics of a constant series, the slope and
    autocorrelation of a one-value series, everything of an empty channel (length 0 says so).
    """

    def fit(self, X, y=None):
        X = _check_series(X)
        self.n_channels_ = X.shape[1]
        self.n_features_in_ = X.shape[1] * X.shape[2]
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = [f"ch{c}_{s}" for c in range(self.n_channels_) for s in STAT_NAMES]
        return np.asarray(names + ["length"], dtype=object)

    def transform(self, X):
        X = _check_series(X, (self.n_channels_,))
        n, C, T = X.shape
        x = X.reshape(n * C, T)
        mask = ~np.isnan(x)
        count = mask.sum(axis=1)
        safe = np.maximum(count, 1)
        z = np.where(mask, x, 0.0)
        mean = z.sum(axis=1) / safe
        dev = np.where(mask, x - mean[:, None], 0.0)
        m2 = (dev ** 2).sum(axis=1) / safe
        m3 = (dev ** 3).sum(axis=1) / safe
        m4 = (dev ** 4).sum(axis=1) / safe
        std = np.sqrt(m2)
        flat = m2 <= 1e-12 * np.maximum(mean ** 2, 1.0)
        skew = np.where(flat, 0.0, m3 / np.where(flat, 1.0, m2) ** 1.5)
        kurt = np.where(flat, 0.0, m4 / np.where(flat, 1.0, m2) ** 2 - 3.0)

        # Quantiles as numpy's default (linear) rule over the observed values: NaN sorts last.
        srt = np.sort(x, axis=1)
        quants = []
        for q in QUANTILES:
            pos = q * (safe - 1)
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, safe - 1)
            frac = pos - lo
            a = np.take_along_axis(srt, lo[:, None], 1)[:, 0]
            b = np.take_along_axis(srt, hi[:, None], 1)[:, 0]
            quants.append(a + frac * (b - a))
        lo_val = np.take_along_axis(srt, np.zeros((n * C, 1), np.int64), 1)[:, 0]
        hi_val = np.take_along_axis(srt, (safe - 1)[:, None], 1)[:, 0]

        t = np.arange(T, dtype=np.float64)
        t_mean = np.where(mask, t, 0.0).sum(axis=1) / safe
        t_dev = np.where(mask, t - t_mean[:, None], 0.0)
        t_var = (t_dev ** 2).sum(axis=1)
        slope = np.where(t_var > 0, (t_dev * dev).sum(axis=1) / np.where(t_var > 0, t_var, 1.0), 0.0)

        pair = mask[:, 1:] & mask[:, :-1]
        n_pairs = np.maximum(pair.sum(axis=1), 1)
        diffs = np.where(pair, np.abs(np.diff(np.where(mask, x, 0.0), axis=1)), 0.0)
        mad = diffs.sum(axis=1) / n_pairs
        lagged = np.where(pair, dev[:, 1:] * dev[:, :-1], 0.0).sum(axis=1)
        denom = (dev ** 2).sum(axis=1)
        acf = np.where(denom > 0, lagged / np.where(denom > 0, denom, 1.0), 0.0)

        last = valid_lengths(X).repeat(C)
        span = np.maximum(last - 1, 1)
        argmax = np.where(mask, x, -np.inf).argmax(axis=1) / span
        argmin = np.where(mask, x, np.inf).argmin(axis=1) / span

        stats = np.stack([mean, std, lo_val, hi_val, *quants, skew, kurt, slope, mad, acf,
                          argmax, argmin], axis=1)
        stats[count == 0] = 0.0
        out = np.concatenate([stats.reshape(n, C * len(STAT_NAMES)),
                              valid_lengths(X)[:, None].astype(np.float64)], axis=1)
        return np.nan_to_num(out, nan=0.0).astype(np.float32)


# --- ROCKET ----------------------------------------------------------------------------------


class Rocket(TransformerMixin, BaseEstimator):
    """ROCKET features (Dempster, Petitjean & Webb 2020): ``n_kernels`` random convolutional
    kernels (length 7, 9 or 11, N(0,1) weights centred to mean 0, bias U(-1,1), exponentially
    distributed dilation, zero padding for half of them), each giving the proportion of positive
    values and the maximum of its output: ``2 * n_kernels`` features per channel, channels
    concatenated (the same kernels applied to each).

    Shorter series are filled by :func:`fill_gaps` (the padding repeats the last value) so the
    kernels see equal lengths; equal-length data is used as it is. ``n_jobs`` numba threads.
    """

    def __init__(self, n_kernels: int = 10_000, random_state: int | None = 0,
                 n_jobs: int | None = 1):
        self.n_kernels = n_kernels
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        X = _check_series(X)
        self.n_channels_ = X.shape[1]
        self.length_ = X.shape[2]
        rng = np.random.default_rng(self.random_state)
        T, k = self.length_, int(self.n_kernels)
        lengths = rng.choice(np.array([7, 9, 11]), size=k)
        weights = np.zeros((k, 11))
        for i, ln in enumerate(lengths):
            w = rng.normal(0.0, 1.0, ln)
            weights[i, :ln] = w - w.mean()
        biases = rng.uniform(-1.0, 1.0, k)
        top = np.log2(np.maximum((T - 1) / (lengths - 1), 1.0))
        dilations = np.floor(2.0 ** rng.uniform(0.0, top)).astype(np.int64)
        span = (lengths - 1) * dilations
        padded = rng.integers(0, 2, k).astype(bool) | (span >= T)  # a kernel longer than the series pads
        paddings = np.where(padded, span // 2, 0).astype(np.int64)
        self.kernels_ = (weights, lengths.astype(np.int64), biases, dilations, paddings)
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray([f"ch{c}_k{i}_{s}" for c in range(self.n_channels_)
                           for i in range(self.n_kernels) for s in ("ppv", "max")], dtype=object)

    def transform(self, X):
        X = _check_series(X, (self.n_channels_,))
        X = fill_gaps(X)
        with _parallel(self.n_jobs):
            parts = [_rocket_apply(np.ascontiguousarray(X[:, c]), *self.kernels_)
                     for c in range(X.shape[1])]
        return np.concatenate(parts, axis=1).astype(np.float32)


@njit(parallel=True, cache=True, fastmath=True)
def _rocket_apply(X, weights, lengths, biases, dilations, paddings):
    n, T = X.shape
    k = lengths.shape[0]
    out = np.empty((n, 2 * k))
    for s in prange(n):
        x = X[s]
        conv = np.empty(2 * T + 1)
        for i in range(k):
            ln, d, p = lengths[i], dilations[i], paddings[i]
            size = T + 2 * p - (ln - 1) * d
            # Tap by tap over all output positions: contiguous inner loops the compiler vectorises.
            conv[:size] = biases[i]
            for j in range(ln):
                shift = j * d - p  # output position o reads x[o + shift]
                first = max(0, -shift)
                last = min(size, T - shift)
                w = weights[i, j]
                for o in range(first, last):
                    conv[o] += w * x[o + shift]
            positive, best = 0, -np.inf
            for o in range(size):
                v = conv[o]
                if v > best:
                    best = v
                if v > 0:
                    positive += 1
            out[s, 2 * i] = positive / size
            out[s, 2 * i + 1] = best
    return out


# --- DTW 1-NN --------------------------------------------------------------------------------


class DTWNeighbors(ClassifierMixin, BaseEstimator):
    """1-nearest-neighbour classifier under dynamic time warping with a Sakoe-Chiba band.

    The band allows a shift of ``ceil(window * (length - 1))`` timestamps (0 is the Euclidean
    distance); series of different lengths are compared as they are (their padding dropped),
    the band then following the diagonal between the two ends. Multivariate series use the
    independent DTW of Shokoohi-Yekta et al. (2017): the sum of the per-channel distances.
    The search abandons a candidate neighbour as soon as its partial cost exceeds the best so far,
    which gives the same answer as the full search.

    ``predict_proba`` is the one-hot vector of the neighbour's class: that is all 1-NN knows, so
    its log loss is harsh and its ROC-AUC that of hard predictions.
    """

    def __init__(self, window: float = 0.1, n_jobs: int | None = 1):
        self.window = window
        self.n_jobs = n_jobs

    def fit(self, X, y):
        X = _check_series(X)
        y = np.asarray(y)
        if len(y) != len(X):
            raise InputError(f"{len(X)} series but {len(y)} labels")
        self.classes_, self.y_index_ = np.unique(y, return_inverse=True)
        self.n_channels_ = X.shape[1]
        self.lengths_ = valid_lengths(X)
        self.X_ = np.ascontiguousarray(fill_gaps(X))
        return self

    def kneighbor(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(distance, training row)`` of each series' nearest training series."""
        X = _check_series(X, (self.n_channels_,))
        lengths = valid_lengths(X)
        X = np.ascontiguousarray(fill_gaps(X))
        with _parallel(self.n_jobs):
            return _dtw_nearest(X, lengths, self.X_, self.lengths_, float(self.window))

    def predict(self, X):
        return self.classes_[self.y_index_[self.kneighbor(X)[1]]]

    def predict_proba(self, X):
        labels = self.y_index_[self.kneighbor(X)[1]]
        proba = np.zeros((len(labels), len(self.classes_)))
        proba[np.arange(len(labels)), labels] = 1.0
        return proba


@njit(cache=True)
def _dtw(x, y, window, cutoff, prev, cur):
    """DTW distance (square root of the summed squared differences along the best path) within
    the band, or inf as soon as it must exceed ``cutoff``. ``prev``/``cur`` are work rows."""
    n, m = x.shape[0], y.shape[0]
    if n == 0 or m == 0:
        return 0.0 if n == m else np.inf
    w = math.ceil(window * (max(n, m) - 1))
    slope = (m - 1) / (n - 1) if n > 1 else 0.0
    if n != m:
        # Keep consecutive rows' bands touching, so a path from one end to the other exists.
        w = max(w, math.ceil(slope), 1)
        if n == 1:
            w = m
    limit = cutoff * cutoff
    prev[:m] = np.inf
    cur[:m] = np.inf
    plo, phi = 0, -1  # band of the row stored in ``prev``
    olo, ohi = 0, -1  # band of the older row left in ``cur``
    for i in range(n):
        centre = i * slope
        lo = max(0, int(math.ceil(centre - w - 1e-9)))
        hi = min(m - 1, int(math.floor(centre + w + 1e-9)))
        for j in range(olo, ohi + 1):
            cur[j] = np.inf
        row_min = np.inf
        for j in range(lo, hi + 1):
            d = x[i] - y[j]
            if i == 0 and j == 0:
                best = 0.0
            else:
                best = np.inf
                if i > 0:
                    best = min(best, prev[j])
                    if j > 0:
                        best = min(best, prev[j - 1])
                if j > 0:
                    best = min(best, cur[j - 1])
            cur[j] = d * d + best
            if cur[j] < row_min:
                row_min = cur[j]
        if row_min >= limit:
            return np.inf
        prev, cur = cur, prev
        olo, ohi = plo, phi
        plo, phi = lo, hi
    return math.sqrt(prev[m - 1])


@njit(parallel=True, cache=True)
def _dtw_nearest(Q, q_len, R, r_len, window):
    nq, C, T = Q.shape
    nr = R.shape[0]
    dist = np.empty(nq)
    index = np.zeros(nq, dtype=np.int64)
    for q in prange(nq):
        prev = np.empty(max(T, R.shape[2]))
        cur = np.empty(max(T, R.shape[2]))
        best, arg = np.inf, 0
        for r in range(nr):
            total = 0.0
            for c in range(C):
                total += _dtw(Q[q, c, :q_len[q]], R[r, c, :r_len[r]], window, best - total,
                              prev, cur)
                if total >= best:
                    break
            if total < best:
                best, arg = total, r
        dist[q] = best
        index[q] = arg
    return dist, index


@contextmanager
def _parallel(n_jobs: int | None):
    """One parallel kernel at a time, on ``n_jobs`` numba threads (-1: all)."""
    limit = numba.config.NUMBA_NUM_THREADS
    n = limit if n_jobs is not None and n_jobs < 0 else (n_jobs or 1)
    with _PARALLEL:
        numba.set_num_threads(max(1, min(int(n), limit)))
        yield
