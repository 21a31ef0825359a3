"""One split and one set of folds for everyone; one budget rule for both families."""

from __future__ import annotations

import numpy as np
import pytest

from nnvsml.config import RunConfig
from nnvsml.data import load_dataset
from nnvsml.errors import InputError
from nnvsml.protocol import Budget, make_protocol


def test_split_is_stratified_seeded_and_disjoint(cancer_df):
    ds = load_dataset(cancer_df, target="diagnosis")
    p1 = make_protocol(ds, seed=3)
    p2 = make_protocol(ds, seed=3)
    p3 = make_protocol(ds, seed=4)
    assert np.array_equal(p1.test_idx, p2.test_idx)
    assert not np.array_equal(p1.test_idx, p3.test_idx)
    assert not set(p1.train_idx) & set(p1.test_idx)
    assert len(p1.train_idx) + len(p1.test_idx) == len(cancer_df)
    y = ds.y.to_numpy()
    share = lambda idx: np.mean(y[idx] == "benign")  # noqa: E731
    assert abs(share(p1.test_idx) - share(p1.train_idx)) < 0.02
    # Folds partition the training rows and never touch a test row.
    val = np.concatenate([v for _, v in p1.folds])
    assert sorted(val) == sorted(p1.train_idx)
    for tr, va in p1.folds:
        assert not set(tr) & set(va) and not set(va) & set(p1.test_idx)


def test_folds_shrink_for_a_rare_class_with_a_notice(cancer_df):
    df = cancer_df.copy()
    df.loc[df.index[:4], "diagnosis"] = "rare"
    p = make_protocol(load_dataset(df, target="diagnosis"), cv_folds=5)
    assert p.cv_folds == 3
    assert "cv folds lowered from 5 to 3" in p.notices[0]


@pytest.mark.parametrize("kwargs, message", [
    ({"budget": 0}, "--budget must be a positive"),
    ({"budget": -5}, "--budget must be a positive"),
    ({"cv_folds": 1}, "--cv-folds"),
    ({"test_fraction": 0.9}, "--test-fraction"),
])
def test_bad_protocol_options(kwargs, message):
    """Wrong whatever the data: refused by the run's configuration, before any data is read."""
    with pytest.raises(InputError, match=message):
        RunConfig.build(**kwargs)


def test_metric_that_does_not_fit_the_task(cancer_df):
    with pytest.raises(InputError, match="does not apply to binary"):
        make_protocol(load_dataset(cancer_df, target="diagnosis"), primary_metric="rmse")


def test_equal_share_per_family_and_unused_time_stays_in_its_family():
    now = [0.0]
    b = Budget(100, ["traditional", "neural"], clock=lambda: now[0])
    assert b.pool["traditional"] == b.pool["neural"] == pytest.approx((100 - b.reserve) / 2)
    first = b.limit_for("traditional", 3)
    assert first == pytest.approx(b.pool["traditional"] / 3)
    b.record("traditional", 1.0)  # a fast model leaves most of its share...
    now[0] = 1.0
    assert b.limit_for("traditional", 2) == pytest.approx((b.pool["traditional"] - 1) / 2)
    # ...to its own family only.
    assert b.limit_for("neural", 2) == pytest.approx(b.pool["neural"] / 2)
    # Never more than what is left of the whole run.
    now[0] = 95.0
    assert b.limit_for("neural", 1) <= 100 - b.reserve - 95.0 + 1e-9


def test_resumed_budget_counts_what_a_family_already_spent():
    b = Budget(100, ["traditional", "neural"], spent_before={"neural": 30.0})
    assert b.limit_for("neural", 1) == pytest.approx(b.pool["neural"] - 30.0)


def test_a_split_given_with_the_data_is_kept(cancer_df):
    ds = load_dataset(cancer_df, target="diagnosis")
    given_test = np.arange(400, len(cancer_df))
    ds.split = (np.arange(400), given_test)
    p = make_protocol(ds, seed=1, test_fraction=0.2)
    assert np.array_equal(p.test_idx, given_test)
    assert p.split == "given" and p.to_dict()["split"] == "given"
    assert p.test_fraction == round(len(given_test) / len(cancer_df), 4)
    assert sorted(np.concatenate([v for _, v in p.folds])) == list(range(400))


def test_a_class_only_in_the_given_test_part_is_refused(cancer_df):
    df = cancer_df.copy()
    df.loc[df.index[-3:], "diagnosis"] = "unseen"
    ds = load_dataset(df, target="diagnosis")
    ds.split = (np.arange(500), np.arange(500, len(df)))
    with pytest.raises(InputError, match="unseen.*only in the data's test part"):
        make_protocol(ds)


@pytest.mark.parametrize("validation, expected", [("holdout", "holdout"), ("cv", "cv"),
                                                  ("auto", "cv")])
def test_holdout_validation_holds_one_part_out(cancer_df, validation, expected):
    ds = load_dataset(cancer_df, target="diagnosis")
    p = make_protocol(ds, validation=validation)
    assert p.validation == expected and p.to_dict()["validation"] == expected
    if expected == "holdout":
        (fit_rows, valid_rows), = p.folds
        assert p.cv_folds == 1
        assert not set(fit_rows) & set(valid_rows)
        assert sorted([*fit_rows, *valid_rows]) == sorted(p.train_idx)
        assert abs(len(valid_rows) / len(p.train_idx) - 0.2) < 0.01
        assert "one held-out part" in p.notices[-1]


def test_auto_validation_holds_out_on_large_data():
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 40_000
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["y"] = (df["a"] > 0).map({True: "yes", False: "no"})
    p = make_protocol(load_dataset(df, target="y"))
    assert p.validation == "holdout" and len(p.folds) == 1


def test_bad_validation_option():
    with pytest.raises(InputError, match="--validation must be one of auto, cv, holdout"):
        RunConfig.build(budget=10, validation="kfold")
