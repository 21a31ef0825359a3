"""What each input column is (:func:`infer_columns`) and how it reaches models (:class:`TabularPreparer`).

Inference looks at the data once, when the dataset is loaded. The preparer then applies the
resulting ``{column: kind}`` mapping to any raw table, at training and at prediction time, so a
saved model pipeline accepts the same table the user started from.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from nnvsml.data.dataset import MODEL_KINDS, ColumnInfo
from nnvsml.errors import InputError

#: The numeric parts a datetime column is expanded into, always all of them, in this order.
DATETIME_PARTS = ("year", "month", "day", "dayofweek", "hour")
_DT_ACCESSORS = {"dayofweek": "day_of_week"}  # pandas deprecates the short spelling

TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "1.0", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0", "0.0", "off"})

MAX_BOOLEAN_SPELLINGS = 8  # distinct raw values worth checking for two yes/no words
MAX_CATEGORICAL_LEVELS = 30  # string columns with more levels are high_cardinality
SHARE_TO_DECIDE = 0.95  # share of sampled values that must parse as numbers / dates, or be unique
SAMPLE_SIZE = 2000
TEXT_MIN_MEAN_CHARS = 30
TEXT_MIN_MEAN_WORDS = 4
MIN_ROWS_FOR_UNIQUE_ID = 20
#: Finite numbers beyond this magnitude are kept, with a notice, and the model pipelines divide
#: their column by a power of two first: float32 (trees, networks) ends at 3.4e38, and squaring
#: for a variance overflows float64 from 1.3e154.
HUGE_MAGNITUDE = 1e30

# Names that announce an identifier: "id", "uuid", "row", "customer_id", "id_customer"...
_ID_NAME = re.compile(
    r"^(id|uuid|guid|key|index|idx|row|rowid|row[ _-]?(id|num|number|no)|record[ _-]?id|unnamed: ?\d+)$"
    r"|[ _.-](id|uuid|guid|key)$|^(id|uuid|guid)[ _.-]",
    re.IGNORECASE,
)
# camelCase endings ("userId", "orderID") are matched case-sensitively: "paid" or "valid" are not IDs.
_ID_CAMEL = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID|Guid|GUID|Key)$")


def infer_columns(X: pd.DataFrame) -> list[ColumnInfo]:
    """One :class:`ColumnInfo` per column of ``X``, in order.

    Rules, first match wins: no values -> ``empty``; one distinct value -> ``constant``; an ID-like
    name (``id``, ``*_id``, ``userId``, ``uuid``, ``key``, ``index``, ``row``...) with >= 95% distinct
    values -> ``id``; bool dtype -> ``boolean``; datetime dtype -> ``datetime``. Numeric dtypes:
    exactly the values 0 and 1 -> ``boolean``; float -> ``numeric``; integer: all distinct and
    consecutive (a row number, >= 20 rows) -> ``id``, at most ``min(50, max(10, 2% of rows))``
    distinct values -> ``categorical`` (codes), else ``numeric``. Text: two yes/no-like words
    (case-insensitive) -> ``boolean``; >= 95% of a sample parse as numbers -> ``numeric``, as dates
    -> ``datetime``; mean length > 30 characters and >= 4 words -> ``text``; all distinct (>= 20
    rows) -> ``id``; at most 30 levels -> ``categorical``, else ``high_cardinality``. A pandas
    ``category`` column skips the number, date, text and id checks. Infinite numbers count as
    missing (``ColumnInfo.notices`` says how many), as do they for the preparer; numbers beyond
    :data:`HUGE_MAGNITUDE` are kept and announced the same way.
    """
    return [_infer_column(str(name), X[name], len(X)) for name in X.columns]


def _infer_column(name: str, s: pd.Series, n_rows: int) -> ColumnInfo:
    present = s.dropna()
    numbers = present.to_numpy(dtype=np.float64) if _holds_numbers(s) else None
    if numbers is not None:
        # An infinity is a missing measurement, not a value: it must not make a column look
        # constant, nor count as a level.
        present = present[np.isfinite(numbers)]
    if _is_text_like(s):
        present = present.astype(str)  # mixed Python objects compare as the strings the preparer makes
    n_unique = int(present.nunique())
    kind, note = _kind(name, s, present, n_unique, n_rows)
    notices = []
    if numbers is None and kind == "numeric":  # numbers stored as text, parsed as the preparer does
        numbers = pd.to_numeric(present, errors="coerce").to_numpy(dtype=np.float64)
        present = present[~np.isinf(numbers)]
    if numbers is not None:
        n_infinite = int(np.isinf(numbers).sum())
        if n_infinite:
            notices.append(f"{n_infinite} infinite value(s) treated as missing")
        n_huge = int((np.abs(numbers[np.isfinite(numbers)]) > HUGE_MAGNITUDE).sum())
        if n_huge and kind == "numeric":
            notices.append(
                f"{n_huge} value(s) beyond {HUGE_MAGNITUDE:.0e} in magnitude, kept as they are "
                "(the models see the column divided by a power of two)"
            )
    missing = 1.0 - len(present) / n_rows if n_rows else 1.0
    return ColumnInfo(name, kind, str(s.dtype), n_unique, missing, note, notices)


def _holds_numbers(s: pd.Series) -> bool:
    """Integer or float columns, nullable ones included (not booleans, dates or durations)."""
    return pd.api.types.is_numeric_dtype(s.dtype) and s.dtype.kind in "iuf"


def _kind(
    name: str, s: pd.Series, present: pd.Series, n_unique: int, n_rows: int
) -> tuple[str, str]:
    if n_unique == 0:
        return "empty", "all values missing: dropped"
    if n_unique == 1:
        return "constant", f"a single value ({short_repr(present.iloc[0])}): dropped"
    if _looks_like_id_by_name(name, s, present, n_unique):
        return "id", f"ID-like name, {n_unique / len(present):.0%} unique: dropped"
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean", "true/false"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime", "date/time: expanded to " + ", ".join(DATETIME_PARTS)
    if pd.api.types.is_numeric_dtype(s.dtype):
        is_integer = pd.api.types.is_integer_dtype(s.dtype)
        return _numeric_kind(present, n_unique, n_rows, is_integer)
    return _text_like_kind(present, n_unique, isinstance(s.dtype, pd.CategoricalDtype))


def _numeric_kind(
    present: pd.Series, n_unique: int, n_rows: int, is_integer: bool
) -> tuple[str, str]:
    if n_unique == 2 and set(present.unique().tolist()) == {0, 1}:
        return "boolean", "two values, 0 and 1"
    if not is_integer:
        # Float columns stay numeric even when whole-valued: PMLB and many exports write
        # continuous values as "39.0" and category codes as "7".
        return "numeric", "numbers"
    if n_unique == len(present) >= MIN_ROWS_FOR_UNIQUE_ID and _consecutive(present):
        return "id", "consecutive unique integers (a row number): dropped"
    if n_unique <= low_cardinality_limit(n_rows):
        return "categorical", f"integer codes with {n_unique} levels: treated as categories"
    return "numeric", "numbers"


def low_cardinality_limit(n_rows: int) -> int:
    """Integer columns with at most this many distinct values are treated as category codes."""
    return min(50, max(10, int(0.02 * n_rows)))


def _text_like_kind(present: pd.Series, n_unique: int, categorical_dtype: bool) -> tuple[str, str]:
    # Spelling variants ("Yes", "YES", "yes") are one value: compare case-insensitively.
    if n_unique <= MAX_BOOLEAN_SPELLINGS and _boolean_words(present):
        words = sorted(present.str.strip().str.lower().unique())
        return "boolean", f"two values ({'/'.join(words)})"
    sample = present.sample(SAMPLE_SIZE, random_state=0) if len(present) > SAMPLE_SIZE else present
    if not categorical_dtype:  # a pandas "category" column is categorical by the user's choice
        numbers = pd.to_numeric(sample, errors="coerce")
        if numbers.notna().mean() >= SHARE_TO_DECIDE:
            bad = sample[numbers.isna()]
            note = "numbers stored as text"
            if len(bad):
                note += f" (non-numbers such as {short_repr(bad.iloc[0])} become missing)"
            return "numeric", note
        if _mostly_datetimes(sample):
            return "datetime", "dates/times as text: expanded to " + ", ".join(DATETIME_PARTS)
        mean_chars, mean_words = sample.str.len().mean(), sample.str.split().str.len().mean()
        if mean_chars > TEXT_MIN_MEAN_CHARS and mean_words >= TEXT_MIN_MEAN_WORDS:
            return "text", ("free-text column: not used by the tabular models "
                            "(--modality text models the text)")
        if n_unique == len(present) >= MIN_ROWS_FOR_UNIQUE_ID:
            return "id", "every value is different (an identifier): dropped"
    if n_unique <= MAX_CATEGORICAL_LEVELS:
        return "categorical", f"{n_unique} levels"
    return "high_cardinality", f"{n_unique} levels: too many to one-hot encode"


def _looks_like_id_by_name(name: str, s: pd.Series, present: pd.Series, n_unique: int) -> bool:
    if not (_ID_NAME.search(name.strip()) or _ID_CAMEL.search(name.strip())):
        return False
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return False
    # Measurements with fractions are not identifiers, whatever their name.
    fractions = pd.api.types.is_float_dtype(s.dtype) and np.any(np.mod(present.to_numpy(float), 1))
    return not fractions and n_unique >= SHARE_TO_DECIDE * len(present)


def _consecutive(present: pd.Series) -> bool:
    values = np.sort(present.to_numpy(dtype=np.int64))
    return bool(np.all(np.diff(values) == 1))


def _boolean_words(present: pd.Series) -> bool:
    words = set(present.str.strip().str.lower().unique())
    return len(words) == 2 and bool(words & TRUE_WORDS) and bool(words & FALSE_WORDS)


def _mostly_datetimes(sample: pd.Series) -> bool:
    # Date strings have digits and some length; the check also keeps bare times such as "12:30"
    # out, which pandas would silently put on today's date.
    plausible = sample.str.contains(r"\d") & (sample.str.len() >= 6)
    if plausible.mean() < SHARE_TO_DECIDE:
        return False
    return parse_datetimes(sample).notna().mean() >= SHARE_TO_DECIDE


def parse_datetimes(s: pd.Series) -> pd.Series:
    """Dates from a column of any dtype (UTC, ``NaT`` where unparseable), quietly.

    The format is inferred from the first value, as pandas does; the same call is used for
    inference and for transforming, so both see the same dates.
    """
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(s, errors="coerce", utc=True)
        except (ValueError, TypeError, OverflowError):
            return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")


def _is_text_like(s: pd.Series) -> bool:
    return (
        pd.api.types.is_object_dtype(s.dtype)
        or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype))
    )


def short_repr(value, limit: int = 30) -> str:
    """``repr`` of a value (numpy scalars as Python ones), cut to ``limit`` characters for messages."""
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def prepared_kinds(kinds: dict[str, str]) -> dict[str, str]:
    """The output columns of ``TabularPreparer(kinds).transform``, in order, with their kind.

    Kinds are ``numeric`` (numbers, booleans as 0/1, datetime parts), ``categorical`` or
    ``high_cardinality``. Computed from ``kinds`` alone, so pipelines can be built before fitting.
    """
    out: dict[str, str] = {}
    for name, kind in kinds.items():
        if kind in ("numeric", "boolean"):
            out[name] = "numeric"
        elif kind in ("categorical", "high_cardinality"):
            out[name] = kind
        elif kind == "datetime":
            out.update({f"{name}__{part}": "numeric" for part in DATETIME_PARTS})
    return out


class TabularPreparer(TransformerMixin, BaseEstimator):
    """First step of every model pipeline: raw user table in, clean typed columns out.

    Keeps the columns whose kind (from :func:`infer_columns`) reaches models, in the order of
    ``kinds``, and ignores any other column of the input. Numeric columns become float64 (text
    that is not a number, and infinities, become NaN); booleans become 0/1 floats; categorical
    columns become
    object columns of strings (``7`` and ``"7"`` agree) with ``np.nan`` for missing; datetime
    columns become the float columns ``<name>__year``, ``__month``, ``__day``, ``__dayofweek``
    and ``__hour``. The index of the input is kept.

    Parameters
    ----------
    kinds:
        ``{column name: kind}`` for the raw input columns, e.g. ``Dataset.kinds()``.
    """

    def __init__(self, kinds: dict[str, str] | None = None):
        self.kinds = kinds

    def fit(self, X: pd.DataFrame, y=None) -> TabularPreparer:
        kinds = dict(self.kinds or {})
        self.input_columns_ = [name for name, kind in kinds.items() if kind in MODEL_KINDS]
        if not self.input_columns_:
            raise InputError(
                "no usable feature columns: every column was dropped as id, constant, empty or "
                "text; add feature columns"
            )
        self.output_kinds_ = prepared_kinds(kinds)
        self._select(X)  # fail at fit time, not later, when the table lacks a column
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "input_columns_")
        X = self._select(X)
        parts: dict[str, pd.Series | np.ndarray] = {}
        for name in self.input_columns_:
            kind, s = self.kinds[name], X[name]
            if kind == "numeric":
                parts[name] = _to_numbers(s)
            elif kind == "boolean":
                parts[name] = _to_boolean(s)
            elif kind == "datetime":
                parts.update(_datetime_parts(name, s))
            else:
                parts[name] = _to_labels(s)
        return pd.DataFrame(parts, index=X.index)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "output_kinds_")
        return np.asarray(list(self.output_kinds_), dtype=object)

    def _select(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise InputError(
                f"expected a table (pandas DataFrame) with named columns, got {type(X).__name__}"
            )
        if not all(isinstance(c, str) for c in X.columns):
            X = X.rename(columns=str)  # so integer headers match the string names in ``kinds``
        missing = [c for c in self.input_columns_ if c not in X.columns]
        if missing:
            shown = ", ".join(repr(c) for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise InputError(
                f"the table lacks {len(missing)} column(s) the model needs: {shown}; "
                "pass a table with the same columns as the training data"
            )
        return X


def _to_numbers(s: pd.Series) -> np.ndarray:
    """float64 values, NaN for what is no number. Infinities are missing values, as inference
    counted them. Plain arrays: a served row pays for numpy, not for a pandas Series per
    column."""
    if not pd.api.types.is_numeric_dtype(s.dtype):
        s = pd.to_numeric(s, errors="coerce")
    values = s.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    values[np.isinf(values)] = np.nan
    return values


def _to_boolean(s: pd.Series) -> pd.Series:
    lookup = {value: _boolean_value(value) for value in s.dropna().unique()}
    return s.astype(object).map(lookup).astype("float64")


def _boolean_value(value) -> float:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return 1.0
    if word in FALSE_WORDS:
        return 0.0
    return np.nan


def _to_labels(s: pd.Series) -> pd.Series:
    labels = np.full(len(s), np.nan, dtype=object)
    present = s.notna().to_numpy()
    labels[present] = [_label(v) for v in s[present]]
    return pd.Series(labels, index=s.index, dtype=object)


def _label(value) -> str:
    # A code read as 7.0 (an int column with gaps becomes float in pandas) must match "7".
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _datetime_parts(name: str, s: pd.Series) -> dict[str, pd.Series]:
    dt = parse_datetimes(s).dt
    return {
        f"{name}__{part}": getattr(dt, _DT_ACCESSORS.get(part, part)).astype("float64")
        for part in DATETIME_PARTS
    }
