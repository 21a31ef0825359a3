"""LightGBM trained on rows that never sit in memory together.

LightGBM bins every feature before boosting. Given a *reference* dataset (the in-memory rows the
model was first fitted on), it takes the bin boundaries from there and then only needs the
rows pushed in order, batch by batch: :class:`lightgbm.Sequence` is that interface. The binned
dataset holds about one byte per feature and row, so ten million rows of fifty features take
about 500 MB where the raw table would take gigabytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import lightgbm as lgb
import numpy as np
import pandas as pd

#: Chunks: a callable returning a fresh iterator of (encoded features, target) pairs, in order.
Chunks = Callable[[], Iterator[tuple[pd.DataFrame, np.ndarray]]]


def codes(X: pd.DataFrame) -> np.ndarray:
    """The numbers LightGBM sees for a table: category columns as their codes (missing: NaN),
    as its scikit-learn interface converts them."""
    out = np.empty(X.shape, dtype=np.float64)
    for j, name in enumerate(X.columns):
        column = X[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            values = column.cat.codes.to_numpy().astype(np.float64)
            values[values < 0] = np.nan
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64,
                                                                       na_value=np.nan)
        out[:, j] = values
    return out


class _Pushed(lgb.Sequence):
    """The chunks as LightGBM's sequential-access Sequence: LightGBM asks for consecutive slices
    from the start (the bins come from the reference), so one pass over the chunks serves it."""

    def __init__(self, chunks: Chunks, n_rows: int, batch_size: int) -> None:
        self._chunks = chunks()
        self._n_rows, self.batch_size = n_rows, batch_size
        self._buffer = np.empty((0, 0))
        self._at = 0  # file position of the buffer's first row

    def __len__(self) -> int:
        return self._n_rows

    def __getitem__(self, index):
        if not isinstance(index, slice) or index.start != self._at:
            raise IndexError("rows are streamed in order; LightGBM asked for another access")
        stop = min(index.stop, self._n_rows)
        while self._buffer.shape[0] < stop - self._at:
            X, _ = next(self._chunks)
            part = codes(X)
            self._buffer = part if not self._buffer.size else np.vstack([self._buffer, part])
        out = self._buffer[: stop - self._at]
        self._buffer = self._buffer[stop - self._at:]
        self._at = stop
        return out


def refit(model, reference: tuple[pd.DataFrame, np.ndarray], chunks: Chunks, y: np.ndarray,
          *, batch_size: int, max_time: float | None, clock) -> bool:
    """Boost ``model`` (a fitted LGBMClassifier / LGBMRegressor) again, with its parameters,
    on every row of ``chunks`` (``y`` holds their targets, in order), binned as ``reference``
    (its first fit's rows) was. Returns whether the time limit ended boosting. ``clock`` makes
    the time-limit callback from (start, max_time)."""
    start = time.perf_counter()
    fitted = model.booster_
    params = {k: v for k, v in fitted.params.items() if k not in ("num_iterations", "n_estimators")}
    X_ref, y_ref = reference
    categorical = [j for j, name in enumerate(X_ref.columns)
                   if isinstance(X_ref[name].dtype, pd.CategoricalDtype)]
    names = list(fitted.feature_name())
    ref = lgb.Dataset(codes(X_ref), label=_labels(model, y_ref), feature_name=names,
                      categorical_feature=categorical, params=params, free_raw_data=False)
    train = lgb.Dataset(_Pushed(chunks, len(y), batch_size), label=_labels(model, y),
                        reference=ref, feature_name=names, categorical_feature=categorical,
                        params=params)
    callbacks = []
    timer = clock(start, float(max_time)) if max_time is not None else None
    if timer is not None:
        callbacks.append(timer)
    booster = lgb.train(params, train, num_boost_round=int(model.n_estimators),
                        callbacks=callbacks)
    booster.pandas_categorical = fitted.pandas_categorical  # predicts from DataFrames as before
    model._Booster = booster
    model._best_iteration = booster.best_iteration
    return bool(timer is not None and timer.stopped)


def _labels(model, y: np.ndarray) -> np.ndarray:
    """The target as LightGBM trains on it: class indices for a classifier."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        return np.asarray(y, dtype=np.float64)
    return np.searchsorted(np.asarray(classes), np.asarray(y)).astype(np.float64)
