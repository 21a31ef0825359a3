"""Bootstrap intervals and paired tests on the test rows, against scikit-learn and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nnvsml import metrics, uncertainty


def _classifier_outputs(k: int, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += 0.6
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.argmax(axis=1), proba


@pytest.mark.parametrize("k", [2, 4])
def test_weighted_metrics_equal_scikit_learn_on_the_rows_themselves(k):
    y, pred, proba = _classifier_outputs(k, 500)
    pred[:7] = (pred[:7] + 1) % k
    ours = uncertainty._classification(y, [(pred, proba)], list(range(k)), np.ones((1, 500)))
    ref = metrics.score("binary" if k == 2 else "multiclass", y, pred, proba, list(range(k)))
    for name, value in ref.items():
        assert ours[name][0, 0] == pytest.approx(value, abs=1e-9), name


def test_regression_metrics_equal_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    pred = y + rng.normal(scale=0.4, size=300)
    ours = uncertainty._regression(y, [(pred, None)], np.ones((1, 300)))
    for name, value in metrics.score("regression", y, pred).items():
        assert ours[name][0, 0] == pytest.approx(value, rel=1e-9), name


def test_interval_holds_the_estimate_and_narrows_with_more_rows():
    widths = []
    for n in (200, 3_000):
        y, pred, proba = _classifier_outputs(3, n, seed=n)
        ci = uncertainty.bootstrap_ci("multiclass", y, pred, proba, [0, 1, 2], seed=0)
        point = metrics.score("multiclass", y, pred, proba, [0, 1, 2])
        for name in ("accuracy", "f1_macro", "roc_auc", "log_loss"):
            assert ci[name]["low"] <= point[name] <= ci[name]["high"], name
        widths.append(ci["accuracy"]["high"] - ci["accuracy"]["low"])
    assert widths[1] < widths[0] / 2  # ~1/sqrt(n): 15x the rows, ~4x narrower


def test_without_probabilities_the_probability_metrics_have_no_interval():
    y, pred, _ = _classifier_outputs(2, 100)
    ci = uncertainty.bootstrap_ci("binary", y, pred, None, [0, 1])
    assert ci["roc_auc"] is None and ci["log_loss"] is None and ci["accuracy"] is not None


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_rows():
    y = np.zeros(100, dtype=int)
    a = y.copy()
    b = y.copy()
    a[:5] = 1   # a wrong on 5 rows b gets right
    b[5:25] = 1  # b wrong on 20 rows a gets right
    out = uncertainty.paired_test("binary", "accuracy", y, (a, None), (b, None), [0, 1])
    assert (out["only_first_right"], out["only_second_right"]) == (20, 5)
    assert out["p_value"] == pytest.approx(stats.binomtest(5, 25, 0.5).pvalue)
    assert out["ci_low"] > 0  # a's accuracy is higher by 0.15


def test_paired_bootstrap_tells_a_real_difference_from_none():
    rng = np.random.default_rng(3)
    y = rng.normal(size=400)
    good, bad = y + rng.normal(scale=0.3, size=400), y + rng.normal(scale=0.6, size=400)
    clear = uncertainty.paired_test("regression", "rmse", y, (good, None), (bad, None), None)
    assert clear["p_value"] < 0.01 and clear["ci_high"] < 0
    same = uncertainty.paired_test("regression", "rmse", y, (good, None), (good, None), None)
    assert same["p_value"] == 1.0 and same["ci_low"] == same["ci_high"] == 0
