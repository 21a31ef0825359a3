"""The target column: which one it is, cleaning it, and which task it implies."""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from nnvsml.data.columns import short_repr
from nnvsml.data.dataset import TASKS
from nnvsml.errors import InputError

#: Column names taken as the target when none is given, in order of preference (case-insensitive).
TARGET_NAMES = ("target", "label", "class", "y")
#: Accepted values of the ``task`` option; ``classification`` picks binary or multiclass by count.
TASK_CHOICES = (*TASKS, "classification", "auto")
#: An integer-valued numeric target with at most this many values is a class label.
MAX_INTEGER_CLASSES = 20
MIN_ROWS = 10  # fewer rows cannot be split into train, validation and test sets
MIN_ROWS_PER_CLASS = 2  # a stratified split needs every class at least twice
MAX_NAMES_SHOWN = 10
_CHOOSE = "pass --target NAME to choose another"
_FORCE = "pass --task to choose another"


def normalize_task(task: str | None) -> str | None:
    """The requested task, lower-cased, or ``None`` to infer it; unknown strings are an error."""
    if task is None:
        return None
    requested = str(task).strip().lower()
    if requested not in TASK_CHOICES:
        raise InputError(f"unknown task '{task}'; use one of: {', '.join(TASK_CHOICES)}")
    return None if requested == "auto" else requested


def choose_target(columns: list[str], target: str | None, notices: list[str]) -> str:
    """The target column: the one given, else one named like a target, else the last column."""
    if target is not None:
        target = str(target)
        if target in columns:
            return target
        raise InputError(_not_found(target, columns))
    by_lower: dict[str, str] = {}
    for column in columns:
        by_lower.setdefault(column.lower(), column)
    named = next((by_lower[n] for n in TARGET_NAMES if n in by_lower), None)
    if named is not None:
        notices.append(f"no target given: using the column named '{named}'; {_CHOOSE}")
        return named
    notices.append(f"no target given: using the last column '{columns[-1]}'; {_CHOOSE}")
    return columns[-1]


def _not_found(target: str, columns: list[str]) -> str:
    by_lower = {c.lower(): c for c in columns}
    close = difflib.get_close_matches(target.lower(), list(by_lower), n=1)
    hint = f"did you mean '{by_lower[close[0]]}'?" if close else "pass --target with one of them"
    return f"target column '{target}' not found; {hint} (columns: {shorten_names(columns)})"


def shorten_names(names: list[str], limit: int = MAX_NAMES_SHOWN) -> str:
    """``a, b, c`` or, for long lists, ``a, b, ... (25 in all)``."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def drop_missing_target(df: pd.DataFrame, target: str, notices: list[str]) -> pd.DataFrame:
    """``df`` without the rows whose target is missing (with a notice saying how many)."""
    missing = df[target].isna()
    if missing.all():
        raise InputError(
            f"target column '{target}' has no values (all {len(df)} rows are missing); "
            "choose another --target"
        )
    if missing.any():
        notices.append(
            f"dropped {int(missing.sum())} of {len(df)} rows whose target '{target}' is missing"
        )
        df = df.loc[~missing]
    return df


def resolve_task(
    y: pd.Series, task: str | None, notices: list[str]
) -> tuple[str, pd.Series, list | None]:
    """``(task, cleaned y, classes)`` for a target without missing values.

    ``task`` is a normalized request (see :func:`normalize_task`) or ``None`` to infer it:
    boolean, text and category targets are classification; numeric targets are classification
    when integer-valued with at most 20 distinct values and no more than half the rows unique,
    regression otherwise. Classification keeps the original labels; regression yields floats.
    """
    target = str(y.name)
    if pd.api.types.is_datetime64_any_dtype(y.dtype):
        raise InputError(
            f"target '{target}' holds dates, which cannot be predicted; choose another --target"
        )
    if task == "regression" or (task is None and _is_continuous(y)):
        if task is None:
            notices.append(
                f"task: regression (target '{target}' has {y.nunique()} distinct numbers); {_FORCE}"
            )
        return "regression", _regression_target(y), None
    y = _plain_labels(y)
    classes = _sorted_classes(y)
    _check_classes(y, classes)
    if task == "binary" and len(classes) != 2:
        raise InputError(
            f"task 'binary' needs exactly 2 classes but target '{target}' has {len(classes)} "
            f"({shorten_names([short_repr(c) for c in classes], limit=5)}); use --task multiclass"
        )
    if task == "multiclass" and len(classes) == 2:
        notices.append(f"target '{target}' has 2 classes: treating the task as binary")
    inferred = "binary" if len(classes) == 2 else "multiclass"
    if task is None:
        notices.append(f"task: {inferred} (target '{target}' has {len(classes)} classes); {_FORCE}")
    return inferred, y, classes


def _is_continuous(y: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(y.dtype) or not pd.api.types.is_numeric_dtype(y.dtype):
        return False
    values = y.to_numpy(dtype=float)
    n_unique = len(np.unique(values))
    whole = bool(np.all(np.mod(values, 1) == 0))
    return not (whole and n_unique <= MAX_INTEGER_CLASSES and n_unique <= len(values) / 2)


def _regression_target(y: pd.Series) -> pd.Series:
    target = str(y.name)
    if pd.api.types.is_bool_dtype(y.dtype):
        raise InputError(
            f"target '{target}' is true/false, not a number; use --task classification"
        )
    numbers = pd.to_numeric(y, errors="coerce")
    bad = y[numbers.isna()]
    if len(bad):
        raise InputError(
            f"target '{target}' is not numeric (e.g. {short_repr(bad.iloc[0])}); regression "
            "needs numbers: use --task classification or choose another --target"
        )
    numbers = numbers.astype("float64")
    if not np.isfinite(numbers.to_numpy()).all():
        raise InputError(f"target '{target}' has infinite values; remove those rows")
    if numbers.nunique() < 2:
        raise InputError(
            f"target '{target}' has a single value ({numbers.iloc[0]:g}); nothing to predict"
        )
    return numbers


def _plain_labels(y: pd.Series) -> pd.Series:
    """Labels as the user wrote them: codes read as 7.0 (a column with gaps) back to 7."""
    if isinstance(y.dtype, pd.CategoricalDtype):
        y = pd.Series(np.asarray(y), index=y.index, name=y.name)
    if pd.api.types.is_float_dtype(y.dtype):
        values = y.to_numpy(dtype=float)
        if np.all(np.mod(values, 1) == 0):
            return pd.Series(values.astype(np.int64), index=y.index, name=y.name)
    elif pd.api.types.is_extension_array_dtype(y.dtype) and not isinstance(y.dtype, pd.StringDtype):
        # Nullable Int64/boolean without missing values: plain numpy dtypes are simpler downstream.
        return y.astype(y.dtype.numpy_dtype)
    return y


def _sorted_classes(y: pd.Series) -> list:
    values = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(y)]
    try:
        return sorted(values)
    except TypeError:  # mixed types, such as 1 and "a": order by their text
        return sorted(values, key=str)


def _check_classes(y: pd.Series, classes: list) -> None:
    target = str(y.name)
    if len(classes) < 2:
        raise InputError(
            f"target '{target}' has a single class {short_repr(classes[0])}; "
            "a classifier needs at least two"
        )
    counts = y.value_counts()
    rare = [label for label in classes if counts.get(label, 0) < MIN_ROWS_PER_CLASS]
    if rare:
        shown = shorten_names([short_repr(label) for label in rare], limit=5)
        raise InputError(
            f"target '{target}' has classes with fewer than {MIN_ROWS_PER_CLASS} rows: {shown}; "
            "remove those rows or merge them into other classes"
        )
