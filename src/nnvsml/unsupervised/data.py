"""Rows without a target for the unsupervised tasks, and the column that may score them.

A clustering or anomaly run is only ever asked for (``--task clustering|anomaly``): an
unlabelled table is never silently turned into one. ``--evaluate-with COLUMN`` names a column
that no model sees: it is taken out of the inputs here and kept as ``Dataset.y``, used only to
score the models afterwards (true classes for clustering; 1 = anomaly for anomaly detection).
Without it ``Dataset.y`` holds missing values and the metrics that need it are undefined.
Folders, IDX and UCR files and arrays carry labels of their own: they are the evaluation
labels when ``--evaluate-with`` is given (any name), and are dropped otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from nnvsml.data.columns import infer_columns
from nnvsml.data.detect import table_modality
from nnvsml.data.text import documents_from_table, text_info
from nnvsml.data.dataset import Dataset
from nnvsml.data.target import MIN_ROWS, shorten_names
from nnvsml.errors import InputError

UNSUPERVISED_TASKS = ("clustering", "anomaly")
#: The share of rows an anomaly detector flags unless told (``--contamination``).
DEFAULT_CONTAMINATION = 0.05
#: Values of an anomaly evaluation column read as "anomaly" when it is not 0/1 or boolean.
ANOMALY_WORDS = ("anomaly", "anomalous", "outlier", "fraud", "attack", "abnormal", "yes",
                 "true", "1")


@dataclass(frozen=True)
class UnsupervisedOptions:
    """What an unsupervised run is told: the evaluation column, the share of rows to flag as
    anomalies, and the number of clusters (None: each model chooses it over a stated range)."""

    evaluate_with: str | None = None
    contamination: float = DEFAULT_CONTAMINATION
    n_clusters: int | None = None

    def info(self) -> dict:
        """What the models are built with (``Dataset.info``, so ``BuildContext.info``)."""
        return {"contamination": self.contamination, "n_clusters": self.n_clusters}


def table_rows(df: pd.DataFrame, task: str, options: UnsupervisedOptions, *, name: str,
               source: str, notices: list[str], modality: str | None = None) -> Dataset:
    """A table's rows, every column but the evaluation column an input; with ``modality``
    text (asked for, or detected), one document per row from its text column(s)."""
    column = options.evaluate_with
    if column is not None:
        if column not in df.columns:
            raise InputError(f"--evaluate-with column '{column}' not found; columns: "
                             f"{shorten_names([str(c) for c in df.columns])}")
        missing = df[column].isna()
        if missing.all():
            raise InputError(f"--evaluate-with column '{column}' has no values; choose another "
                             "or leave the option out")
        if missing.any():
            notices.append(f"dropped {int(missing.sum())} of {len(df)} rows whose evaluation "
                           f"column '{column}' is missing")
            df = df.loc[~missing].reset_index(drop=True)
        X = df.drop(columns=[column])
    else:
        X = df
    if len(X) < MIN_ROWS:
        raise InputError(f"too few rows to split ({len(X)}); need at least {MIN_ROWS}")
    columns = infer_columns(X)
    if modality is None:
        modality, reason = table_modality(X, columns)
        if modality != "tabular":
            notices.append(f"modality: {modality} ({reason}); pass --modality tabular to use "
                           "the columns as a table")
    if modality == "text":
        docs, text_column = documents_from_table(X, columns, notices)
        dataset = Dataset(name=name, X=docs, y=pd.Series(np.full(len(docs), np.nan)),
                          target=None, task=task, columns=columns, modality="text",
                          notices=notices, source=source,
                          info={**text_info(docs, text_column), **options.info()})
        return with_evaluation(dataset, df[column] if column is not None else None, task,
                               options)
    if modality != "tabular":
        raise InputError(f"a table's rows are clustered as a table or as texts; pass "
                         f"--modality tabular or --modality text (not {modality})")
    if not any(c.used for c in columns):
        raise InputError("no usable input column: every column was dropped ("
                         + "; ".join(f"{c.name}: {c.kind}" for c in columns[:10])
                         + "); add numeric or categorical columns")
    dataset = Dataset(name=name, X=X, y=pd.Series(np.full(len(X), np.nan)), target=None,
                      task=task, columns=columns, notices=notices, source=source,
                      info=options.info())
    return with_evaluation(dataset, df[column] if column is not None else None, task, options)


def from_labelled(dataset: Dataset, task: str, options: UnsupervisedOptions) -> Dataset:
    """A folder / array dataset loaded with its labels, as unlabelled rows: the labels become
    the evaluation column when ``--evaluate-with`` asks for them, and are dropped otherwise."""
    labels = dataset.y if options.evaluate_with is not None else None
    if labels is None:
        dataset.notices.append("the data's own labels are not used: pass --evaluate-with labels "
                               "to score the models against them (no model sees them)")
    plain = replace(dataset, y=pd.Series(np.full(len(dataset.y), np.nan)), target=None,
                    task=task, classes=None, info={**dataset.info, **options.info()})
    return with_evaluation(plain, labels, task, options)


def with_evaluation(dataset: Dataset, labels: pd.Series | None, task: str,
                    options: UnsupervisedOptions) -> Dataset:
    if labels is None:
        return dataset
    labels = pd.Series(np.asarray(labels), name=options.evaluate_with)
    if task == "anomaly":
        labels = anomaly_flags(labels, dataset.notices)
    else:
        labels = labels.astype(str) if labels.dtype == object else labels
        if labels.nunique() < 2:
            raise InputError(f"--evaluate-with column '{options.evaluate_with}' holds a single "
                             "class; clusters cannot be scored against it")
    dataset.notices.append(
        f"'{options.evaluate_with}' scores the models afterwards and is never shown to them")
    return replace(dataset, y=labels.reset_index(drop=True),
                   info={**dataset.info, "evaluate_with": str(options.evaluate_with)})


def anomaly_flags(labels: pd.Series, notices: list[str] | None = None) -> pd.Series:
    """An anomaly evaluation column as 1 (anomaly) / 0: 0/1 numbers, booleans, or two values
    one of which reads as an anomaly (e.g. ``fraud`` / ``normal``)."""
    values = set(pd.unique(labels).tolist())
    if values <= {0, 1, True, False}:
        flags = labels.astype(int)
    elif len(values) == 2:
        words = [v for v in values if str(v).strip().lower() in ANOMALY_WORDS]
        if len(words) != 1:
            # Anomalies are the rare rows: the rarer value, when one is rarer.
            counts = labels.value_counts()
            if counts.iloc[0] == counts.iloc[-1]:
                raise InputError(
                    f"--evaluate-with column '{labels.name}' holds {sorted(map(str, values))} "
                    "equally often: mark anomalies 1 and other rows 0")
            words = [counts.index[-1]]
            if notices is not None:
                notices.append(f"'{labels.name}': the rarer value '{words[0]}' marks the "
                               "anomalies; mark them 1 and other rows 0 to choose otherwise")
        flags = (labels == words[0]).astype(int)
    else:
        raise InputError(f"--evaluate-with column '{labels.name}' holds {len(values)} values; "
                         "an anomaly evaluation column marks anomalies 1 and other rows 0")
    if flags.sum() == 0 or flags.sum() == len(flags):
        raise InputError(f"--evaluate-with column '{labels.name}' marks "
                         f"{'no' if flags.sum() == 0 else 'every'} row as an anomaly; the "
                         "detectors cannot be scored against it")
    return flags.rename(labels.name)
