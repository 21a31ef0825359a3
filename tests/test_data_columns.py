"""infer_columns kinds, and TabularPreparer / prepared_kinds."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from nnvsml.data import TabularPreparer, infer_columns, load_dataset, prepared_kinds
from nnvsml.errors import InputError

N = 200


@pytest.fixture
def table() -> pd.DataFrame:
    """One column of every kind (N rows), with a few missing values where it matters."""
    rng = np.random.default_rng(0)
    words = "the quick brown fox jumps over a lazy dog while seven wizards quietly box".split()
    with_gaps = rng.normal(size=N)
    with_gaps[::10] = np.nan
    return pd.DataFrame(
        {
            "height": with_gaps,
            "rating": rng.integers(1, 6, N),  # 5 integer levels: category codes
            "count": rng.integers(0, 10_000, N),  # many integer values: a number
            "whole_float": rng.integers(1, 6, N).astype(float),  # floats stay numeric
            "color": rng.choice(["red", "green", "blue", None], N),
            "zip": [f"z{i % 120:03d}" for i in range(N)],  # 120 levels
            "flag": rng.choice([True, False], N),
            "answer": rng.choice(["Yes", "no", "YES"], N),
            "binary01": rng.integers(0, 2, N),
            "when": pd.date_range("2020-01-01", periods=N, freq="37h"),
            "when_text": pd.date_range("2021-03-01", periods=N, freq="D").strftime("%Y-%m-%d"),
            "customer_id": rng.permutation(N) + 1000,
            "uuid_like": [f"u-{rng.integers(1e9):09d}-{i}" for i in range(N)],
            "row_number": np.arange(N),
            "same": ["x"] * N,
            "nothing": [np.nan] * N,
            "comment": [" ".join(rng.choice(words, 8)) for _ in range(N)],
            "numbers_as_text": [str(i * 1.5) for i in range(N - 2)] + ["n.a.", "unknown"],
        }
    )


EXPECTED = {
    "height": "numeric",
    "rating": "categorical",
    "count": "numeric",
    "whole_float": "numeric",
    "color": "categorical",
    "zip": "high_cardinality",
    "flag": "boolean",
    "answer": "boolean",
    "binary01": "boolean",
    "when": "datetime",
    "when_text": "datetime",
    "customer_id": "id",
    "uuid_like": "id",
    "row_number": "id",
    "same": "constant",
    "nothing": "empty",
    "comment": "text",
    "numbers_as_text": "numeric",
}


def test_every_kind_is_inferred(table):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # date parsing must not leak warnings
        columns = infer_columns(table)
    assert [c.name for c in columns] == list(table.columns)
    assert {c.name: c.kind for c in columns} == EXPECTED


def test_column_info_fields(table):
    info = {c.name: c for c in infer_columns(table)}
    assert info["height"].missing_fraction == pytest.approx(0.1)
    assert info["nothing"].missing_fraction == 1.0
    assert info["rating"].n_unique == 5
    assert info["rating"].dtype == "int64"
    assert "--modality text" in info["comment"].note
    assert "become missing" in info["numbers_as_text"].note
    assert all(c.note for c in info.values())
    assert not info["customer_id"].used and info["color"].used


def test_low_cardinality_threshold_grows_with_rows():
    # 40 integer levels: codes in 2,000 rows (limit 40), a number in 500 rows (limit 10).
    big = pd.DataFrame({"c": np.arange(2000) % 40})
    small = pd.DataFrame({"c": np.arange(500) % 40})
    assert infer_columns(big)[0].kind == "categorical"
    assert infer_columns(small)[0].kind == "numeric"


def test_nullable_integers_count_as_integers():
    s = pd.array([1, 2, 3, None] * 10, dtype="Int64")
    assert infer_columns(pd.DataFrame({"c": s}))[0].kind == "categorical"


def test_prepared_kinds_is_static_and_ordered():
    kinds = {"a": "numeric", "id": "id", "b": "boolean", "d": "datetime", "c": "categorical",
             "h": "high_cardinality", "t": "text"}
    assert prepared_kinds(kinds) == {
        "a": "numeric",
        "b": "numeric",
        "d__year": "numeric",
        "d__month": "numeric",
        "d__day": "numeric",
        "d__dayofweek": "numeric",
        "d__hour": "numeric",
        "c": "categorical",
        "h": "high_cardinality",
    }


def test_preparer_output_matches_prepared_kinds(table):
    kinds = {c.name: c.kind for c in infer_columns(table)}
    prep = TabularPreparer(kinds).fit(table)
    out = prep.transform(table)
    assert list(out.columns) == list(prepared_kinds(kinds))
    assert list(prep.get_feature_names_out()) == list(out.columns)
    assert out.index.equals(table.index)
    for name, kind in prepared_kinds(kinds).items():
        if kind == "numeric":
            assert out[name].dtype == np.float64, name
        else:
            assert out[name].dtype == object, name
    assert set(out["answer"].dropna()) == {0.0, 1.0}
    assert out["when__hour"].between(0, 23).all()
    assert out["numbers_as_text"].isna().sum() == 2


def test_preparer_handles_missing_values_and_new_tables():
    kinds = {"n": "numeric", "b": "boolean", "c": "categorical", "d": "datetime", "i": "id"}
    train = pd.DataFrame({
        "n": [1.0, 2.0, 3.0],
        "b": ["yes", "no", "yes"],
        "c": [7, 8, 7],
        "d": ["2020-01-01 10:00", "2020-06-15 11:00", "2021-01-01 12:00"],
        "i": [1, 2, 3],
    })
    prep = TabularPreparer(kinds).fit(train)
    # At prediction time: values as text, gaps everywhere, an extra column, shuffled order,
    # no id column (it is not used) and an unknown boolean word.
    new = pd.DataFrame({
        "extra": [1, 2, 3],
        "d": [None, "2022-02-02 09:30", "garbage"],
        "c": [7.0, np.nan, 9.0],
        "b": [None, "TRUE", "maybe"],
        "n": ["4.5", None, "oops"],
    }, index=[10, 11, 12])
    out = prep.transform(new)
    assert list(out.index) == [10, 11, 12]
    assert out["n"].tolist()[0] == 4.5 and out["n"].isna().tolist() == [False, True, True]
    assert out["b"].isna().tolist() == [True, False, True] and out["b"][11] == 1.0
    assert out["c"][10] == "7" and pd.isna(out["c"][11]) and out["c"][12] == "9"  # 7.0 and 7 agree
    assert out["d__year"].isna().tolist() == [True, False, True] and out["d__hour"][11] == 9.0


def test_preparer_reports_missing_columns():
    train = pd.DataFrame({"a": [1], "b": ["x"]})
    prep = TabularPreparer({"a": "numeric", "b": "categorical"}).fit(train)
    with pytest.raises(InputError, match="lacks 1 column.*'b'"):
        prep.transform(pd.DataFrame({"a": [1.0]}))


def test_preparer_needs_a_usable_column():
    with pytest.raises(InputError, match="no usable feature columns"):
        TabularPreparer({"a": "id"}).fit(pd.DataFrame({"a": [1]}))


def test_preparer_pickles_and_clones(table):
    kinds = {c.name: c.kind for c in infer_columns(table)}
    prep = TabularPreparer(kinds).fit(table)
    restored = pickle.loads(pickle.dumps(prep))
    pd.testing.assert_frame_equal(restored.transform(table), prep.transform(table))
    fresh = clone(prep)
    assert fresh.kinds == kinds and not hasattr(fresh, "input_columns_")
    assert fresh.get_params() == {"kinds": kinds}


# --- infinities and huge numbers -----------------------------------------------------------------


def _extreme_table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "inf": rng.normal(size=n),
        "huge": rng.normal(size=n) * 1e307,
        "c": rng.choice(["u", "v"], n),
        "y": ["p", "q"] * (n // 2),
    })
    df.loc[[3, 7, 9], "inf"] = [np.inf, -np.inf, np.inf]
    df.loc[5, "huge"] = 1.7e308  # near float64's largest
    return df


def test_infinities_are_missing_and_huge_values_announced():
    ds = load_dataset(_extreme_table())
    columns = {c.name: c for c in ds.columns}
    assert columns["inf"].kind == "numeric"
    assert columns["inf"].missing_fraction == pytest.approx(3 / 60)
    assert columns["huge"].missing_fraction == 0
    assert "column 'inf': 3 infinite value(s) treated as missing" in ds.notices
    assert any(n.startswith("column 'huge': 60 value(s) beyond 1e+30") and "kept" in n
               for n in ds.notices)
    prepared = TabularPreparer(ds.kinds()).fit(ds.X).transform(ds.X)
    numbers = prepared[["inf", "huge"]].to_numpy(float)
    assert prepared["inf"].isna().sum() == 3 and not np.isinf(numbers).any()


def test_a_column_of_one_number_and_infinities_is_constant():
    df = pd.DataFrame({"x": [1.0, np.inf] * 20})
    assert infer_columns(df)[0].kind == "constant"


@pytest.mark.parametrize("style", ["linear", "tree", "lightgbm", "neural"])
def test_every_encoding_takes_infinities_and_huge_values(style):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from nnvsml.models.preprocessing import encoder

    ds = load_dataset(_extreme_table())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an overflow would warn first
        pre = encoder(style, ds.kinds(), task=ds.task)
        out = pre.fit_transform(ds.X, ds.y)
        numbers = out.select_dtypes("number").to_numpy(dtype=np.float64)
        assert not np.isinf(numbers).any()
        if style in ("linear", "neural"):  # these fill missing values: all finite, float32 too
            assert np.isfinite(numbers.astype(np.float32)).all()
            model = Pipeline(pre.steps + [("model", LogisticRegression())]).fit(ds.X, ds.y)
            assert np.isfinite(model.predict_proba(ds.X)).all()
        else:
            assert not np.isinf(numbers.astype(np.float32)).any()


def test_power_of_two_scaling_is_exact_and_leaves_ordinary_columns_alone():
    from nnvsml.models.preprocessing import PowerOfTwoScale

    X = pd.DataFrame({"small": [0.1, -3.0, 250.0], "huge": [1.7e308, -2.5e200, 3.0]})
    out = PowerOfTwoScale().fit(X).transform(X)
    assert (out[:, 0] == X["small"]).all()
    assert np.abs(out[:, 1]).max() <= 1 and (np.ldexp(out[:, 1], 1024) == X["huge"]).all()
