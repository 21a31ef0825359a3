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
TASK_CHOICES = (*TASKS, "classification", "clustering", "anomaly", "auto")
# An integer-valued numeric target is taken as class codes when it has few distinct values, both
# in number and as a share of the rows; otherwise it is a quantity (regression). The thresholds
# are AutoGluon's (autogluon.core.utils.infer_problem_type): at most 1,000 distinct values, and
# at most 10% of the rows for up to 1,000 rows, 5% above. Two distinct values are always binary.
#: Most distinct integers a target taken as class codes may have.
MAX_INTEGER_CLASSES = 1000
#: Up to this many rows, the "small data" share below applies; above it, the "large data" one.
LARGE_DATA_ROWS = 1000
#: Largest share of the rows that the distinct integers of class codes may make up.
MAX_CLASS_SHARE_SMALL_DATA = 0.10
MAX_CLASS_SHARE_LARGE_DATA = 0.05
#: On small tables the share rule alone would make 4 codes over 30 rows a quantity: this many
#: distinct integers, each on at least two rows, are class codes whatever their share.
FEW_CLASSES = 10
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
            f"dropped {int(missing.sum())} of {len(df)} rows whose target '{target}' is missing "
            "(--unlabeled use lets semi-supervised models learn from them)"
        )
        df = df.loc[~missing]
    return df


def resolve_task(
    y: pd.Series, task: str | None, notices: list[str]
) -> tuple[str, pd.Series, list | None]:
    """``(task, cleaned y, classes)`` for a target without missing values.

    ``task`` is a normalized request (see :func:`normalize_task`) or ``None`` to infer it:
    boolean, text and category targets are classification; a numeric target with two distinct
    values is binary; integer-valued ones are multiclass when their distinct values are few
    (see :data:`MAX_INTEGER_CLASSES` and the shares beside it), regression otherwise; other
    numbers are regression. Classification keeps the original labels; regression yields floats.
    """
    target = str(y.name)
    if pd.api.types.is_datetime64_any_dtype(y.dtype):
        raise InputError(
            f"target '{target}' holds dates, which cannot be predicted; choose another --target"
        )
    inferred, why = infer_task(y) if task is None else (None, "")
    if task == "regression" or inferred == "regression":
        if inferred:
            notices.append(f"task: regression {why}")
        return "regression", _regression_target(y), None
    y = _plain_labels(y)
    classes = _sorted_classes(y)
    if task == "binary" and len(classes) != 2:
        # Before the per-class checks: a continuous target's "classes" all have a single row,
        # which says nothing about what is wrong.
        other = "regression" if infer_task(y)[0] == "regression" else "multiclass"
        raise InputError(
            f"task 'binary' needs exactly 2 classes but target '{target}' has {len(classes)} "
            f"distinct values ({shorten_names([short_repr(c) for c in classes], limit=5)}); "
            f"use --task {other}"
        )
    _check_classes(y, classes)
    if task == "multiclass" and len(classes) == 2:
        notices.append(f"target '{target}' has 2 classes: treating the task as binary")
    chosen = "binary" if len(classes) == 2 else "multiclass"
    if task is None:
        notices.append(f"task: {chosen} {why}")
    return chosen, y, classes


def infer_task(y: pd.Series) -> tuple[str, str]:
    """``(task, why)`` for a target without missing values: the task it implies, and the rest of
    the notice announcing it, ``(reason); how to choose another``."""
    target = str(y.name)
    n_unique = int(y.nunique())
    if pd.api.types.is_bool_dtype(y.dtype) or not pd.api.types.is_numeric_dtype(y.dtype):
        task = "binary" if n_unique == 2 else "multiclass"
        return task, f"(target '{target}' has {n_unique} classes); {_FORCE}"
    values = y.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        return "regression", f"(target '{target}' has infinite values); {_FORCE}"
    if n_unique == 2:
        return "binary", f"(target '{target}' has 2 distinct values); {_FORCE}"
    if not _whole(values):
        return "regression", f"(target '{target}' has {n_unique} distinct numbers); {_FORCE}"
    small = len(values) <= LARGE_DATA_ROWS
    limit = MAX_CLASS_SHARE_SMALL_DATA if small else MAX_CLASS_SHARE_LARGE_DATA
    share = n_unique / len(values)
    counted = (
        f"integer target '{target}' with {n_unique:,} distinct values ({_percent(share)} of rows)"
    )
    few = n_unique <= FEW_CLASSES and int(y.value_counts().min()) >= MIN_ROWS_PER_CLASS
    if (n_unique <= MAX_INTEGER_CLASSES and share <= limit) or few:
        return "multiclass", (
            f"({counted}: taken as class codes); pass --task regression to treat it as a number"
        )
    if n_unique > MAX_INTEGER_CLASSES:
        reason = f"more than {MAX_INTEGER_CLASSES:,} values"
    else:
        rows = f"{'up to' if small else 'over'} {LARGE_DATA_ROWS:,} rows"
        reason = f"more than {_percent(limit)} of rows, the limit for {rows}"
    return "regression", (
        f"({counted}: {reason} to be class codes); pass --task multiclass to treat them as classes"
    )


def _whole(values: np.ndarray) -> bool:
    with np.errstate(invalid="ignore"):  # inf % 1 is NaN, which is not whole: no warning needed
        return bool(np.all(np.mod(values, 1) == 0))


def _percent(share: float) -> str:
    return f"{100 * share:.3g}%"


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
        if _whole(values):
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
