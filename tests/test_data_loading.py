"""load_dataset: target choice, task inference, notices, user errors, real and bundled data."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnvsml.data import Dataset, load_dataset
from nnvsml.data.bundled import BUNDLED_TARGET, load_bundled
from nnvsml.errors import InputError, printable

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _table(n: int = 40, **columns) -> pd.DataFrame:
    """A small table with two usable features and the given extra columns."""
    rng = np.random.default_rng(1)
    base = {"x1": rng.normal(size=n), "x2": rng.choice(["a", "b", "c"], n)}
    return pd.DataFrame({**base, **columns})


# --- data argument and sources ---------------------------------------------------------------


def test_csv_file_round_trip(tmp_path):
    df = _table(label=["yes", "no"] * 20)
    path = tmp_path / "My Data.csv.gz"
    df.to_csv(path, index=False)
    ds = load_dataset(path)
    assert isinstance(ds, Dataset)
    assert ds.name == "My Data" and ds.source == str(path)
    assert ds.target == "label" and ds.task == "binary" and ds.classes == ["no", "yes"]
    assert list(ds.X.columns) == ["x1", "x2"] and len(ds.y) == ds.n_rows == 40


def test_parquet_and_name_override(tmp_path):
    path = tmp_path / "t.parquet"
    _table(y=np.arange(40) * 1.5).to_parquet(path)
    ds = load_dataset(str(path), name="mine")
    assert ds.name == "mine" and ds.task == "regression" and ds.classes is None
    assert ds.y.dtype == np.float64


def test_dataframe_is_copied_and_columns_become_strings():
    df = _table(target=[0, 1] * 20)
    df[7] = np.arange(40) % 3
    ds = load_dataset(df)
    assert ds.source == "dataframe" and ds.name == "dataframe"
    assert "7" in ds.X.columns and 7 in df.columns  # the caller's frame is untouched


def test_bad_data_argument():
    with pytest.raises(InputError, match="path to a CSV/TSV/Parquet file or a pandas DataFrame"):
        load_dataset([1, 2, 3])


def test_missing_file():
    with pytest.raises(InputError, match="file not found: nope.csv; check the path"):
        load_dataset("nope.csv")


# --- target ------------------------------------------------------------------------------------


def test_target_named_like_a_target_is_picked_with_a_notice():
    ds = load_dataset(_table(Class=["a", "b"] * 20, other=np.arange(40) % 4))
    assert ds.target == "Class"
    assert any("'Class'" in n and "--target" in n for n in ds.notices)


def test_last_column_is_the_default_target():
    ds = load_dataset(_table(outcome=["a", "b"] * 20))
    assert ds.target == "outcome"
    assert any("last column 'outcome'" in n for n in ds.notices)


def test_target_not_found_suggests_the_closest_column():
    message = r"target column 'incme' not found; did you mean 'Income'\? \(columns: x1, x2, Income\)"
    with pytest.raises(InputError, match=message):
        load_dataset(_table(Income=["a", "b"] * 20), target="incme")


def test_target_not_found_without_a_close_match_lists_columns():
    columns = {f"col{i}": np.arange(40) for i in range(15)}
    with pytest.raises(InputError, match=r"not found; pass --target with one of them .*\(15 in all\)"):
        load_dataset(pd.DataFrame(columns), target="zzz")


def test_rows_with_missing_target_are_dropped_with_a_notice():
    y = ["a", "b"] * 20
    y[3] = None
    y[8] = None
    ds = load_dataset(_table(y=y))
    assert ds.n_rows == 38 and ds.y.notna().all()
    assert any("dropped 2 of 40 rows" in n for n in ds.notices)


def test_integer_labels_with_gaps_keep_their_integer_values():
    y = [0.0, 1.0] * 20
    y[0] = np.nan
    ds = load_dataset(_table(y=y))
    assert ds.classes == [0, 1] and ds.y.dtype == np.int64


def test_target_all_missing():
    with pytest.raises(InputError, match="target column 'y' has no values"):
        load_dataset(_table(y=[None] * 40))


# --- task ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "y, task",
    [
        (["a", "b", "c", "d"] * 10, "multiclass"),
        ([True, False] * 20, "binary"),
        (list(range(4)) * 10, "multiclass"),
        (list(range(40)), "regression"),  # integers, but too many values
        (np.linspace(0, 1, 40), "regression"),
    ],
)
def test_task_inference(y, task):
    ds = load_dataset(_table(y=y))
    assert ds.task == task
    assert any(n.startswith(f"task: {task} ") and "--task" in n for n in ds.notices)


def test_forced_tasks():
    df = _table(y=list(range(4)) * 10)
    assert load_dataset(df, task="regression").task == "regression"
    assert load_dataset(df, task="Classification").task == "multiclass"
    two = _table(y=["a", "b"] * 20)
    ds = load_dataset(two, task="multiclass")
    assert ds.task == "binary" and any("treating the task as binary" in n for n in ds.notices)
    with pytest.raises(InputError, match="needs exactly 2 classes .* has 4"):
        load_dataset(df, task="binary")
    with pytest.raises(InputError, match="not numeric .*use --task classification"):
        load_dataset(two, task="regression")


def test_unknown_task():
    with pytest.raises(InputError, match="unknown task 'clusters'; use one of: binary, multiclass"):
        load_dataset(_table(y=[0, 1] * 20), task="clusters")


def test_single_class():
    with pytest.raises(InputError, match="single class 'a'; a classifier needs at least two"):
        load_dataset(_table(y=["a"] * 40))


def test_class_with_one_row():
    y = ["a", "b"] * 19 + ["c", "d"]
    with pytest.raises(InputError, match="fewer than 2 rows: 'c', 'd'; remove those rows or merge"):
        load_dataset(_table(y=y))


def test_too_few_rows():
    with pytest.raises(InputError, match=r"too few rows to split \(9\); need at least 10"):
        load_dataset(_table(n=9, y=["a", "b", "c"] * 3))


def test_no_usable_feature():
    df = pd.DataFrame({"id": np.arange(40), "same": 1, "y": ["a", "b"] * 20})
    with pytest.raises(InputError, match=r"no usable feature column: .*\(id: id; same: constant\)"):
        load_dataset(df)
    with pytest.raises(InputError, match="no column besides the target 'y'"):
        load_dataset(df[["y"]])


# --- notices and kinds ---------------------------------------------------------------------------


def test_dropped_columns_are_announced_by_kind():
    df = _table(user_id=np.arange(40), same=["k"] * 40, blank=[np.nan] * 40, y=["a", "b"] * 20)
    ds = load_dataset(df)
    notices = " | ".join(ds.notices)
    assert "dropped 1 ID-like column(s): user_id" in notices
    assert "dropped 1 constant column(s): same" in notices
    assert "dropped 1 empty (all missing) column(s): blank" in notices
    assert ds.n_features == 2
    assert "y" not in ds.kinds()  # kinds describe the features only


def test_latin1_notice_reaches_the_dataset(tmp_path):
    path = tmp_path / "latin.csv"
    rows = "".join(f"{i},Zürich{i % 3},{'oui' if i % 2 else 'non'}\n" for i in range(30))
    path.write_bytes(("n,ville,réponse\n" + rows).encode("latin-1"))
    ds = load_dataset(path)
    assert ds.target == "réponse" and ds.task == "binary"
    assert any("Latin-1" in n for n in ds.notices)


def test_semicolon_csv(tmp_path):
    path = tmp_path / "eu.csv"
    rows = "".join(f"{i};{i % 3};{'a' if i % 2 else 'b'}\n" for i in range(30))
    path.write_text("n;k;y\n" + rows)
    ds = load_dataset(path)
    assert list(ds.X.columns) == ["n", "k"] and ds.task == "binary"


# --- real and bundled data -----------------------------------------------------------------------


def test_real_adult_file():
    path = SHARED_DATA / "adult" / "adult.tsv.gz"
    if not path.exists():
        pytest.skip(f"shared development data not found at {path}")
    ds = load_dataset(path)
    kinds = ds.kinds()
    assert ds.name == "adult" and ds.task == "binary" and ds.n_features == 14
    assert all(kinds[c] == "categorical" for c in ("workclass", "occupation", "native-country"))
    assert kinds["age"] == "numeric" and kinds["fnlwgt"] == "numeric"


def test_bundled_data_is_the_default():
    ds = load_dataset()
    assert ds.name == "adult_sample" and ds.source == "bundled:adult_sample"
    assert ds.target == BUNDLED_TARGET == "income"
    assert ds.task == "binary" and ds.classes == ["<=50K", ">50K"] and ds.n_rows == 6000
    assert ds.X["workclass"].isna().any() and ds.X["occupation"].isna().any()
    assert ds.n_features == 14


def test_load_bundled_rejects_unknown_names():
    assert load_bundled().shape == (6000, 15)
    with pytest.raises(InputError, match="unknown bundled dataset 'iris'; available: adult_sample"):
        load_bundled("iris")


# --- streams, awkward targets and names ----------------------------------------------------------


def test_standard_input_is_named_stdin(monkeypatch):
    csv = _table(y=["a", "b"] * 20).to_csv(index=False).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(csv)))
    ds = load_dataset("-")
    assert ds.name == "stdin" and ds.source == "stdin" and ds.n_rows == 40


def test_binary_on_a_continuous_target_says_what_is_wrong():
    y = np.random.default_rng(0).normal(size=40)
    message = r"needs exactly 2 classes but target 'y' has 40 distinct values .*--task regression"
    with pytest.raises(InputError, match=message):
        load_dataset(_table(y=y), task="binary")


@pytest.mark.parametrize("task", [None, "binary", "regression"])
def test_infinite_and_missing_target_fails_without_a_warning(task, recwarn):
    y = np.random.default_rng(0).normal(size=40)
    y[:3] = [np.inf, np.nan, -np.inf]
    with pytest.raises(InputError):
        load_dataset(_table(y=y), task=task)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_many_integer_codes_over_many_rows_are_classes():
    n = 20_000
    y = np.arange(n) % 26
    ds = load_dataset(_table(n=n, y=y))
    assert ds.task == "multiclass" and len(ds.classes) == 26
    notice = next(n for n in ds.notices if n.startswith("task: multiclass"))
    assert "26 distinct values (0.13% of rows)" in notice and "--task regression" in notice


@pytest.mark.parametrize(
    "n, n_unique, task",
    [
        (100, 10, "multiclass"),  # 10% of up to 1,000 rows
        (100, 11, "regression"),
        (2000, 100, "multiclass"),  # 5% above 1,000 rows
        (2000, 101, "regression"),
        (30_000, 1000, "multiclass"),
        (30_000, 1001, "regression"),  # more than 1,000 distinct values
        (100, 2, "binary"),
    ],
)
def test_integer_target_thresholds(n, n_unique, task):
    ds = load_dataset(_table(n=n, y=(np.arange(n) % n_unique).astype(float)))
    assert ds.task == task
    notice = next(m for m in ds.notices if m.startswith("task: "))
    other = {"multiclass": "--task regression", "regression": "--task multiclass"}.get(task)
    assert other is None or other in notice


def test_control_characters_in_names_are_escaped_in_messages():
    name = "col\x1b[31mred\x9b"
    with pytest.raises(InputError) as info:
        load_dataset(_table(y=["a", "b"] * 20), target=name)
    assert "col\\x1b[31mred\\x9b" in str(info.value) and "\x1b" not in str(info.value)
    ds = load_dataset(_table(**{"same\x1b": ["k"] * 40, "y": ["a", "b"] * 20}))
    assert any("same\\x1b" in n for n in ds.notices)
    assert not any("\x1b" in n for n in ds.notices)


def test_printable():
    assert printable("a\x1bb\x9bc\r\n\t\u202e") == "a\\x1bb\\x9bc\\r\\n\\t\\u202e"
    assert printable("plain text, é and 中") == "plain text, é and 中"
    # The message's own whitespace still collapses to one line.
    assert str(InputError("two\n  lines\tand \x1b")) == "two lines and \\x1b"
