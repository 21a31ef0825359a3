"""Time-series datasets: UCR archive folders, tables of one series per row, arrays.

Series end up as one float32 array ``(n, channels, length)``. A series shorter than the longest
is NaN-padded at the end, which is how the UCR archive stores varying lengths; a value missing
in the middle of a series has no such reading and is an error rather than a guess.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from nnvsml.data.columns import infer_columns, short_repr
from nnvsml.data.dataset import ColumnInfo, Dataset
from nnvsml.data.detect import (
    UCR_FILE,
    holds_ucr_lines,
    labelled_dataset,
    numbered_columns,
    read_bytes,
    split_fields,
    visible_files,
)
from nnvsml.data.readers import MISSING_MARKERS, PARQUET_SUFFIXES, read_table
from nnvsml.data.target import shorten_names
from nnvsml.errors import InputError

#: Labels read as missing (compared lower-case), as in tables.
_MISSING_LABELS = {marker.lower() for marker in MISSING_MARKERS}

#: Says where value ``t`` of example ``row`` comes from, for error messages.
Locator = Callable[[int, int], str]


def series_array(X, notices: list[str], locate: Locator | None = None) -> tuple[np.ndarray, dict]:
    """``(float32 (n, channels, length), info)`` from ``(n, length)`` or ``(n, channels, length)`` numbers.

    Trailing NaN marks a shorter series (kept as padding, all-NaN trailing steps trimmed); NaN
    before the end of a series, an empty series or an infinite value is an :class:`InputError`.
    """
    X = np.asarray(X)
    if X.ndim == 2:
        X = X[:, np.newaxis, :]
    if X.ndim != 3 or X.dtype.kind not in "biuf":
        raise InputError(
            f"series arrays need numbers of shape (n, length) or (n, channels, length), got "
            f"{X.dtype} of shape {X.shape}"
        )
    X = X.astype(np.float32)
    locate = locate or (lambda row, t: f"example {row + 1}, time step {t + 1}")
    if np.isinf(X).any():
        row, _, t = np.argwhere(np.isinf(X))[0]
        raise InputError(f"{locate(row, t)}: infinite value in a series; fix or remove it")
    lengths = series_lengths(X, locate)
    T = int(lengths.max())
    X = np.ascontiguousarray(X[:, :, :T])
    padded = bool((lengths < T).any())
    if padded:
        notices.append(
            f"series lengths vary from {int(lengths.min())} to {T}: shorter series are NaN-padded at the end"
        )
    return X, series_info(X, lengths)


def series_lengths(X: np.ndarray, locate: Locator) -> np.ndarray:
    """Length of each series: up to its last value present in any channel; gaps before are errors."""
    present = ~np.isnan(X)
    any_channel = present.any(axis=1)  # (n, T)
    T = X.shape[2]
    has_value = any_channel.any(axis=1)
    if not has_value.all():
        row = int(np.argmin(has_value))
        raise InputError(f"{locate(row, 0)}: the series has no values; remove that example")
    lengths = T - np.argmax(any_channel[:, ::-1], axis=1)
    gaps = ~present & (np.arange(T) < lengths[:, None, None])
    if gaps.any():
        row, _, t = np.argwhere(gaps)[0]
        raise InputError(
            f"{locate(row, t)}: missing value in the middle of a series; only the end of a "
            "series may be missing (a shorter series): fill the gap or remove that example"
        )
    return lengths


def series_info(X: np.ndarray, lengths: np.ndarray) -> dict:
    """The ``info`` of a sequence Dataset."""
    T = int(X.shape[2])
    return {
        "length": T,
        "channels": int(X.shape[1]),
        "padded": bool((lengths < T).any()),
        "min_length": int(lengths.min()),
    }


# --- UCR archive -------------------------------------------------------------------------------


def load_ucr(
    path: str | os.PathLike,
    task: str | None = None,
    name: str | None = None,
    notices: list[str] | None = None,
) -> Dataset:
    """A sequence Dataset from a UCR folder (``NAME_TRAIN.tsv`` + ``NAME_TEST.tsv``, gzipped or not).

    ``path`` is the folder or either file. Each line is the label then the series, no header;
    tab-, comma- or space-separated. Labels are classes as written (numbers when all are
    numbers); rows whose label is missing (empty, ``NaN``...) are dropped with a notice. The
    archive's train/test split is kept (train rows first).
    """
    notices = notices if notices is not None else []
    ucr_name, train_path, test_path = ucr_pair(Path(path))
    train_labels, train_rows = read_ucr_file(train_path)
    test_labels, test_rows = read_ucr_file(test_path)
    n_read = len(train_rows) + len(test_rows)
    train_labels, train_rows = _labelled_rows(train_labels, train_rows, train_path)
    test_labels, test_rows = _labelled_rows(test_labels, test_rows, test_path)
    rows = train_rows + test_rows
    if len(rows) < n_read:
        notices.append(
            f"dropped {n_read - len(rows)} of {n_read} rows whose label is missing (empty or NaN)"
        )
    files = [train_path] * len(train_rows) + [test_path] * len(test_rows)
    width = max(len(values) for _, values in rows)
    values = np.full((len(rows), width), np.nan, dtype=np.float64)
    for i, (_, row_values) in enumerate(rows):
        values[i, : len(row_values)] = row_values
    short = sum(1 for _, row_values in rows if len(row_values) < width)
    if short:
        notices.append(f"{short} rows shorter than {width} values: padded at the end with NaN")

    def locate(row: int, t: int) -> str:
        return f"{files[row].name}, line {rows[row][0]}, value {t + 1}"

    X, info = series_array(values, notices, locate)
    split = (np.arange(len(train_rows)), np.arange(len(train_rows), len(X)))
    labels = train_labels + test_labels
    return labelled_dataset(
        X,
        ucr_labels(labels),
        modality="sequence",
        name=name or ucr_name,
        source=str(path),
        task=task,
        notices=notices,
        info=info,
        split=split,
    )


def ucr_pair(path: Path) -> tuple[str, Path, Path]:
    """``(name, train file, test file)`` for a UCR folder or one of its two files."""
    if not path.exists():
        raise InputError(f"file not found: {path}; check the path")
    folder = path if path.is_dir() else path.parent
    files = {}
    for f in visible_files(folder):
        match = UCR_FILE.match(f.name)
        if match:
            files.setdefault(match["name"], {}).setdefault(match["part"], f)
    if path.is_file():
        match = UCR_FILE.match(path.name)
        if not match:
            raise InputError(
                f"{path} is not named like a UCR file (NAME_TRAIN.tsv or NAME_TEST.tsv)"
            )
        names = [match["name"]]
    else:
        names = sorted(files)
    if not names:
        raise InputError(f"no UCR files (NAME_TRAIN.tsv and NAME_TEST.tsv) found in {folder}")
    if len(names) > 1:
        raise InputError(
            f"{folder} holds several UCR datasets ({shorten_names(names)}); pass the path of one "
            f"of their files, e.g. {next(iter(files[names[0]].values()))}"
        )
    name = names[0]
    pair = files.get(name, {})
    for part, other in (("TRAIN", "TEST"), ("TEST", "TRAIN")):
        if part not in pair:
            raise InputError(
                f"{folder} has {pair[other].name} but no {name}_{part} file (.tsv, optionally .gz); "
                "the UCR format needs both: add it"
            )
    return name, pair["TRAIN"], pair["TEST"]


def read_ucr_file(path: Path) -> tuple[list[str], list[tuple[int, np.ndarray]]]:
    """``(labels, [(line number, values)])`` of a UCR file; rows may differ in length.

    Empty fields and ``NaN`` are missing values; any other non-number is an error naming the
    file, line and value.
    """
    try:
        text = read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text file of numbers; check the file") from None
    labels: list[str] = []
    rows: list[tuple[int, np.ndarray]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = split_fields(line)
        if len(fields) < 2:
            raise InputError(
                f"{path.name}, line {number}: a label but no series values; fix or remove the line"
            )
        labels.append(fields[0])
        rows.append((number, _numbers(fields[1:], path, number)))
    if not rows:
        raise InputError(f"{path} has no data lines; check the file")
    return labels, rows


def _labelled_rows(
    labels: list[str], rows: list[tuple[int, np.ndarray]], path: Path
) -> tuple[list[str], list[tuple[int, np.ndarray]]]:
    """The rows whose label is present: a missing label (empty, NaN...) is no class."""
    keep = [label.strip().lower() not in _MISSING_LABELS for label in labels]
    if not any(keep):
        raise InputError(
            f"{path.name} has no labelled row (all {len(labels)} labels are missing); put each "
            "row's class first on its line"
        )
    return (
        [label for label, k in zip(labels, keep) if k],
        [row for row, k in zip(rows, keep) if k],
    )


def _numbers(fields: list[str], path: Path, line: int) -> np.ndarray:
    fields = [f if f else "nan" for f in fields]
    try:
        return np.array(fields, dtype=np.float64)
    except ValueError:
        for position, field in enumerate(fields, start=1):
            try:
                float(field)
            except ValueError:
                raise InputError(
                    f"{path.name}, line {line}, value {position}: {field!r} is not a number; "
                    "UCR files hold only numbers (the label, then the series)"
                ) from None
        raise


def ucr_labels(labels: list[str]) -> np.ndarray:
    """Labels as numbers when they all are (ECG200's -1/1), else as the strings read: labels
    are nominal, so ``"1"`` beside ``"abnormal"`` stays the class ``"1"``."""
    numbers = pd.to_numeric(pd.Series(labels), errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy()
    return np.asarray(labels, dtype=object)


# --- tables ------------------------------------------------------------------------------------


def series_from_table(
    X: pd.DataFrame,
    y: pd.Series,
    columns: list[ColumnInfo],
    *,
    name: str,
    source: str,
    task: str | None = None,
    notices: list[str] | None = None,
) -> Dataset:
    """A sequence Dataset from a table with one equal-length series per row.

    The series are the numbered columns (``t0, t1...``) when there are such, else every column in
    order but text columns that are identifiers, constant or empty (numeric ones stay: a series
    may well be constant at some step). Other columns are ignored with a notice. Trailing missing
    values make a shorter series; a non-number or a gap in the middle is an :class:`InputError`.
    """
    notices = notices if notices is not None else []
    names = series_column_names(X, columns, notices)
    values = _numeric_values(X[names])

    def locate(row: int, t: int) -> str:
        return f"row {row + 1}, column '{names[t]}'"

    array, info = series_array(values, notices, locate)
    return labelled_dataset(
        array,
        y.to_numpy(),
        modality="sequence",
        name=name,
        source=source,
        task=task,
        notices=notices,
        info=info,
        target=str(y.name),
        from_column=True,
    )


def series_column_names(
    X: pd.DataFrame, columns: list[ColumnInfo], notices: list[str]
) -> list[str]:
    """The columns holding the series (see :func:`series_from_table`); the others are ignored
    with a notice."""
    numbered = numbered_columns(list(X.columns))
    if numbered and len(numbered) >= 2:
        names = numbered
    else:
        kinds = {c.name: c.kind for c in columns}
        names = [
            c
            for c in X.columns
            if pd.api.types.is_numeric_dtype(X[c].dtype)
            or kinds.get(c) not in ("id", "constant", "empty")
        ]
    others = [c for c in X.columns if c not in names]
    if others:
        notices.append(
            f"ignored {len(others)} column(s) that are not part of the series: {shorten_names(others)}"
        )
    return names


def _numeric_values(frame: pd.DataFrame) -> np.ndarray:
    """The table as float64; a value that is not a number is an error naming row and column."""
    out = np.empty(frame.shape, dtype=np.float64)
    for j, column in enumerate(frame.columns):
        raw = frame[column]
        numbers = (
            pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw
        )
        bad = numbers.isna() & raw.notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise InputError(
                f"row {row + 1}, column '{column}': {short_repr(raw.iloc[row])} is not a number; "
                "series values must be numbers"
            )
        out[:, j] = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


# --- new series, for a trained model -------------------------------------------------------------


def series_like(values: np.ndarray, length: int, channels: int, notices: list[str],
                locate: Locator) -> np.ndarray:
    """New series ``(n, channels, T)`` (NaN: missing) as a model trained on ``length`` steps
    takes them, float32 ``(n, channels, length)``.

    A shorter series is NaN-padded at the end, as training pads the shorter series of a
    dataset; a longer one is an :class:`InputError`, as are the gaps, empty series and
    infinities :func:`series_array` refuses.
    """
    with np.errstate(over="ignore"):  # beyond float32's range is infinite, refused below
        X = np.asarray(values).astype(np.float32)
    if X.ndim != 3 or X.shape[1] != channels:
        got = X.shape[1] if X.ndim == 3 else "?"
        raise InputError(f"the series have {got} channel(s) but the model takes {channels}; "
                         "pass series with the channels it was trained on")
    if np.isinf(X).any():
        row, _, t = np.argwhere(np.isinf(X))[0]
        raise InputError(f"{locate(row, t)}: infinite value (or one beyond 3.4e38) in a "
                         "series; fix or remove it")
    lengths = series_lengths(X, locate)
    if (lengths > length).any():
        row = int(np.argmax(lengths > length))
        raise InputError(f"{locate(row, length)}: the series holds {lengths[row]} values, more "
                         f"than the {length} time steps the model takes; cut it to {length}")
    out = np.full((len(X), channels, length), np.nan, dtype=np.float32)
    kept = min(X.shape[2], length)
    out[:, :, :kept] = X[:, :, :kept]
    short = int((lengths < length).sum())
    if short:
        notices.append(f"{short} series shorter than the model's {length} time steps are "
                       "NaN-padded at the end, as training pads shorter series")
    return out


def read_series_file(path: Path, length: int, channels: int, notices: list[str],
                     target: str | None = None) -> np.ndarray:
    """New series from one file, for a model trained on ``length`` steps (see
    :func:`series_like`): UCR lines or a table of one series per row, as training reads them.

    UCR lines (no header, numbers after a first field): the first field is a label, and
    ignored, when the file is named like a UCR file, when some first field is not a number, or
    when the longest line holds exactly ``length`` numbers after it; otherwise it is the
    series' first value. Tables: the ``target`` column, when there, is ignored; the series
    columns are chosen as training chooses them.
    """
    if path.is_dir():
        raise InputError(f"{path} is a folder; pass one file of series (UCR lines, CSV or Parquet)")
    if channels != 1:
        raise InputError(f"the model takes series of {channels} channels, which a file holds "
                         "one per row only as one channel; send them to nnvsml serve instead")
    if path.suffix.lower() not in PARQUET_SUFFIXES and holds_ucr_lines(path):
        values, locate = _ucr_values(path, length)
    else:
        table = read_table(path, notices)
        if target is not None and target in table.columns:
            table = table.drop(columns=[target])
        names = series_column_names(table, infer_columns(table), notices)
        values = _numeric_values(table[names])

        def locate(row: int, t: int) -> str:
            column = f", column '{names[t]}'" if t < len(names) else ""
            return f"row {row + 1}{column}"

    return series_like(values[:, np.newaxis, :], length, channels, notices, locate)


def _ucr_values(path: Path, length: int) -> tuple[np.ndarray, Locator]:
    """The series of a file of UCR lines, NaN-padded to the longest, and where each comes from."""
    labels, rows = read_ucr_file(path)
    widest = max(len(values) for _, values in rows)
    labelled = (UCR_FILE.match(path.name) is not None or widest == length
                or any(not _is_value(label) for label in labels))
    if not labelled:
        rows = [(line, np.concatenate([[float(label)], values]))
                for label, (line, values) in zip(labels, rows)]
        widest += 1
    values = np.full((len(rows), widest), np.nan)
    for i, (_, row_values) in enumerate(rows):
        values[i, : len(row_values)] = row_values

    def locate(row: int, t: int) -> str:
        after = " after the label" if labelled else ""
        return f"{path.name}, line {rows[row][0]}, value {t + 1}{after}"

    return values, locate


def _is_value(field: str) -> bool:
    """A first field that can be a series' first value: a number (a label is anything else)."""
    try:
        float(field)
    except ValueError:
        return False
    return field.strip() != ""
