"""One split and one set of folds for everyone; one budget rule for both families."""

from __future__ import annotations

import numpy as np
import pytest

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
    ({"budget_seconds": 0}, "--budget must be a positive"),
    ({"budget_seconds": -5}, "--budget must be a positive"),
    ({"cv_folds": 1}, "--cv-folds"),
    ({"test_fraction": 0.9}, "--test-fraction"),
    ({"primary_metric": "rmse"}, "does not apply to binary"),
])
def test_bad_protocol_options(cancer_df, kwargs, message):
    with pytest.raises(InputError, match=message):
        make_protocol(load_dataset(cancer_df, target="diagnosis"), **kwargs)


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
