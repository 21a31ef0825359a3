"""``load_dataset``: a file, a DataFrame or the bundled sample in, a checked :class:`Dataset` out."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from nnvsml.data.bundled import BUNDLED, BUNDLED_TARGET, DEFAULT_BUNDLED, load_bundled
from nnvsml.data.columns import infer_columns
from nnvsml.data.dataset import ColumnInfo, Dataset
from nnvsml.data.readers import read_table
from nnvsml.data.target import (
    MAX_NAMES_SHOWN,
    MIN_ROWS,
    choose_target,
    drop_missing_target,
    normalize_task,
    resolve_task,
    shorten_names,
)
from nnvsml.errors import InputError

#: Suffixes stripped from a file name to name the dataset ("adult.tsv.gz" -> "adult").
_NAME_SUFFIXES = {".gz", ".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq"}

#: How dropped columns are described in notices, by kind.
_DROPPED = {
    "id": "ID-like",
    "constant": "constant",
    "empty": "empty (all missing)",
    "text": "free-text (text modelling is not supported on tables yet)",
}


def load_dataset(
    data: str | os.PathLike | pd.DataFrame | None = None,
    target: str | None = None,
    task: str | None = None,
    name: str | None = None,
) -> Dataset:
    """Load and check a tabular dataset.

    ``data`` is a path to a CSV/TSV/Parquet file, a DataFrame (copied), or ``None`` for the bundled
    sample of UCI Adult. ``target`` defaults to a column named target/label/class/y, else the
    last column. ``task`` is binary, multiclass, regression, classification or ``None``/auto to
    infer it. Rows with a missing target are dropped. Everything decided on the user's behalf is
    listed in ``Dataset.notices``; anything unusable raises :class:`InputError`.
    """
    requested_task = normalize_task(task)  # a bad option fails before any reading
    notices: list[str] = []
    df, source, default_name = _read_data(data, notices)
    if data is None and target is None:
        target = BUNDLED_TARGET
    target = choose_target(list(df.columns), target, notices)
    df = drop_missing_target(df, target, notices).reset_index(drop=True)
    if len(df) < MIN_ROWS:
        raise InputError(f"too few rows to split ({len(df)}); need at least {MIN_ROWS}")
    task_name, y, classes = resolve_task(df[target], requested_task, notices)
    X = df.drop(columns=[target])
    columns = infer_columns(X)
    notices.extend(column_notices(columns))
    if not any(c.used for c in columns):
        raise _no_features(columns, target)
    return Dataset(
        name=name or default_name,
        X=X,
        y=y,
        target=target,
        task=task_name,
        columns=columns,
        classes=classes,
        notices=notices,
        source=source,
    )


def _read_data(data, notices: list[str]) -> tuple[pd.DataFrame, str, str]:
    """``(table, source, default name)`` for each accepted kind of ``data``."""
    if data is None:
        description = BUNDLED[DEFAULT_BUNDLED]
        notices.append(f"no data given: using the bundled dataset {DEFAULT_BUNDLED}, {description}")
        return load_bundled(DEFAULT_BUNDLED), f"bundled:{DEFAULT_BUNDLED}", DEFAULT_BUNDLED
    if isinstance(data, (str, os.PathLike)):
        return read_table(data, notices), str(data), dataset_name(data)
    if isinstance(data, pd.DataFrame):
        return _checked_frame(data), "dataframe", "dataframe"
    raise InputError(
        "data must be a path to a CSV/TSV/Parquet file or a pandas DataFrame, "
        f"not {type(data).__name__}"
    )


def _checked_frame(df: pd.DataFrame) -> pd.DataFrame:
    if df.shape[1] == 0 or len(df) == 0:
        raise InputError(
            f"the DataFrame is empty ({len(df)} rows, {df.shape[1]} columns); pass a table with data"
        )
    df = df.copy()
    df.columns = [str(c) for c in df.columns]  # kinds and pipelines address columns by name
    duplicates = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if duplicates:
        raise InputError(
            f"duplicate column names: {shorten_names(duplicates)}; rename them so each is unique"
        )
    return df


def _no_features(columns: list[ColumnInfo], target: str) -> InputError:
    if not columns:
        return InputError(f"the table has no column besides the target '{target}'; add feature columns")
    dropped = "; ".join(f"{c.name}: {c.kind}" for c in columns[:MAX_NAMES_SHOWN])
    more = f"; ... ({len(columns)} in all)" if len(columns) > MAX_NAMES_SHOWN else ""
    return InputError(
        f"no usable feature column: every column besides the target '{target}' was dropped "
        f"({dropped}{more}); add feature columns or choose another --target"
    )


def dataset_name(path: str | os.PathLike) -> str:
    """The file name without data suffixes: ``data/adult.tsv.gz`` -> ``adult``."""
    stem = Path(path).name
    while Path(stem).suffix.lower() in _NAME_SUFFIXES:
        stem = stem[: -len(Path(stem).suffix)]
    return stem or Path(path).name


def column_notices(columns: list[ColumnInfo]) -> list[str]:
    """One notice per kind of dropped column, naming them, plus one per number-as-text column."""
    notices = []
    for kind, label in _DROPPED.items():
        names = [c.name for c in columns if c.kind == kind]
        if names:
            notices.append(f"dropped {len(names)} {label} column(s): {shorten_names(names)}")
    for c in columns:
        if c.kind == "numeric" and "become missing" in c.note:
            notices.append(f"column '{c.name}': {c.note}")
    return notices
