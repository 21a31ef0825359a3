"""The Dataset: what the comparison learns from, with everything known about it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Column kinds that reach the models. Others (``id``, ``constant``, ``text``, ``empty``) are dropped.
MODEL_KINDS = ("numeric", "categorical", "high_cardinality", "boolean", "datetime")

TASKS = ("binary", "multiclass", "regression")

#: What a Dataset may hold, and the layout of ``X`` for each:
#:   tabular  -- a DataFrame of raw columns;
#:   text     -- a 1-D object array of str, one document per row;
#:   image    -- a uint8 array (n, height, width, channels);
#:   sequence -- a float32 array (n, channels, length), NaN after a shorter series ends;
#:   audio    -- a float32 array (n, n_mels, frames) of log-mel spectrograms.
MODALITIES = ("tabular", "image", "text", "sequence", "audio")


def take(X, rows):
    """Rows of ``X`` by position, whatever the modality's layout."""
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


@dataclass
class ColumnInfo:
    """What was inferred about one input column.

    ``kind`` is one of: ``numeric``; ``categorical`` (strings or low-cardinality integers, few
    levels); ``high_cardinality`` (categorical with many levels: never one-hot encoded);
    ``boolean``; ``datetime`` (expanded to parts before modelling); and the dropped kinds ``id``
    (ID-like), ``constant``, ``empty`` (all missing) and ``text`` (free text). ``missing_fraction``
    counts infinite numbers, which the models receive as missing values.
    """

    name: str
    kind: str
    dtype: str
    n_unique: int
    missing_fraction: float
    note: str = ""
    #: What the user must be told about this column's values (infinities taken as missing, huge
    #: values kept), one message each.
    notices: list[str] = field(default_factory=list, compare=False)

    @property
    def used(self) -> bool:
        return self.kind in MODEL_KINDS

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "n_unique": int(self.n_unique),
            "missing_fraction": round(float(self.missing_fraction), 6),
            "used": self.used,
            "note": self.note,
        }


@dataclass
class Dataset:
    """Features, target and what was inferred about them.

    ``X`` holds the raw input in the modality's layout (see ``MODALITIES``). For tables these are
    all the raw columns, dropped kinds included: the model pipelines select what they use, so a
    saved model accepts the same raw table. ``y`` is the cleaned target
    (rows with a missing target already removed). ``classes`` lists the class labels in sorted
    order for classification, ``None`` for regression. ``notices`` are one-line messages for the
    user about what was decided on their behalf (dropped rows, dropped columns, inferred task...).
    ``split`` is a ``(train positions, test positions)`` pair when the data came with its own
    split (MNIST's files, the UCR archive's TRAIN/TEST); the protocol then keeps it. ``info``
    holds modality facts for the results and the models (image size, series length, ...).
    """

    name: str
    X: pd.DataFrame | np.ndarray
    y: pd.Series
    #: None for an unsupervised task (its evaluation column, if any, is ``info["evaluate_with"]``).
    target: str | None
    task: str
    columns: list[ColumnInfo]
    modality: str = "tabular"
    classes: list | None = None
    notices: list[str] = field(default_factory=list)
    source: str | None = None
    split: tuple[np.ndarray, np.ndarray] | None = None
    info: dict = field(default_factory=dict)
    #: A table larger than memory (:mod:`nnvsml.data.large`): ``X`` holds the test rows and a
    #: stratified sample of the training rows; this says where every training row is, for the
    #: models that learn from batches: ``path``, ``columns`` (read from the file),
    #: ``train_positions`` (sorted file positions), ``y_train`` (their targets: class indices
    #: into ``classes``, or numbers), ``memory_positions`` (the file position of each row of
    #: ``X``: validation rows are kept out of a stream by it), and the counts the results state
    #: (``sampling``).
    stream: dict | None = None
    #: ``--unlabeled use``: the rows whose target is missing, in ``X``'s layout. Only the
    #: semi-supervised candidates see them, and never as test rows.
    X_unlabelled: pd.DataFrame | None = None

    @property
    def n_unlabelled(self) -> int:
        return 0 if self.X_unlabelled is None else len(self.X_unlabelled)

    @property
    def n_rows(self) -> int:
        return len(self.X)

    @property
    def used_columns(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.used]

    @property
    def n_features(self) -> int:
        """Input columns the models use (before encoding); values per row for arrays (pixels,
        time steps x channels, mel bins x frames); 1 for a text."""
        if self.modality == "tabular":
            return len(self.used_columns)
        if self.modality == "text":
            return 1
        return int(np.prod(self.X.shape[1:]))

    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}

    def fingerprint(self) -> str:
        """A hash of the data and target, so a resumed run can check it sees the same rows."""
        h = hashlib.sha256()
        if isinstance(self.X, pd.DataFrame):
            h.update(pd.util.hash_pandas_object(self.X, index=False).values.tobytes())
            h.update(repr(list(self.X.columns)).encode())
        elif self.X.dtype == object:
            h.update(pd.util.hash_pandas_object(pd.Series(self.X), index=False).values.tobytes())
        else:
            h.update(repr((self.X.shape, str(self.X.dtype))).encode())
            h.update(np.ascontiguousarray(self.X).tobytes())
        h.update(pd.util.hash_pandas_object(self.y, index=False).values.tobytes())
        h.update(repr((self.target, self.task, self.modality)).encode())
        if self.X_unlabelled is not None:
            h.update(pd.util.hash_pandas_object(self.X_unlabelled, index=False).values.tobytes())
        if self.split is not None:
            h.update(np.asarray(self.split[1]).tobytes())
        return h.hexdigest()[:16]

    def summary(self) -> dict:
        """The ``dataset`` block of results.json."""
        return {
            "name": self.name,
            "modality": self.modality,
            "task": self.task,
            "n_rows": self.stream["sampling"]["rows"] if self.stream is not None else self.n_rows,
            "n_features": self.n_features,
            "target": self.target,
            "evaluate_with": self.info.get("evaluate_with"),
            "classes": [_jsonable(c) for c in self.classes] if self.classes is not None else None,
            "source": self.source,
            "fingerprint": self.fingerprint(),
            "columns": [c.to_dict() for c in self.columns],
            "input": {k: _jsonable(v) for k, v in self.info.items()},
            "split": "given with the data" if self.split is not None and self.stream is None
            else None,
            "notices": list(self.notices),
            **({"sampling": dict(self.stream["sampling"])} if self.stream is not None else {}),
            **({"n_unlabelled": self.n_unlabelled} if self.X_unlabelled is not None else {}),
        }


def _jsonable(value):
    """numpy scalars -> Python scalars, for JSON."""
    return value.item() if hasattr(value, "item") else value
