"""Tasks as declared specs: their metrics and directions, scoring through a spec against
scikit-learn, the paired tests and report sections they name, and the registry."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from sklearn import metrics as skm

from nnvsml import metrics, uncertainty
from nnvsml.errors import InputError
from nnvsml.report import SECTIONS
from nnvsml.tasks import TASKS, Metric, TaskSpec, find_metric, get_task, register_task

CLASSIFICATION = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
                  "roc_auc", "log_loss")
REGRESSION = ("rmse", "mae", "r2")
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}


def test_the_built_in_tasks_are_declared():
    assert {"binary", "multiclass", "regression"} <= set(TASKS)
    for name in ("binary", "multiclass", "regression"):
        spec = get_task(name)
        assert spec.name == name and spec.kind == "supervised"


@pytest.mark.parametrize("task, names", [("binary", CLASSIFICATION),
                                         ("multiclass", CLASSIFICATION),
                                         ("regression", REGRESSION)])
def test_each_spec_declares_its_metrics_in_order_with_their_directions(task, names):
    spec = get_task(task)
    assert spec.metric_names == names
    assert spec.greater_is_better == {m: m not in LOWER_IS_BETTER for m in names}
    # The names other modules import are derived from the specs.
    assert metrics.metric_names(task) == names
    assert all(metrics.GREATER_IS_BETTER[m] == spec.greater_is_better[m] for m in names)


def test_the_module_level_names_cover_every_spec():
    declared = {m.name: m.greater_is_better for s in TASKS.values() for m in s.metrics}
    assert dict(metrics.GREATER_IS_BETTER) == declared
    assert metrics.GREATER_IS_BETTER.get("no_such_metric", True) is True
    with pytest.raises(KeyError):
        metrics.GREATER_IS_BETTER["no_such_metric"]
    assert metrics.CLASSIFICATION_METRICS == CLASSIFICATION
    assert metrics.REGRESSION_METRICS == REGRESSION


def test_what_each_spec_says_about_classes_probabilities_and_strata():
    for name in ("binary", "multiclass"):
        spec = get_task(name)
        assert spec.has_classes and spec.needs_proba and spec.stratified
    spec = get_task("regression")
    assert not spec.has_classes and not spec.needs_proba and not spec.stratified
    assert find_metric("roc_auc").needs_proba and not find_metric("accuracy").needs_proba
    assert find_metric("r2").share and not find_metric("rmse").share
    assert find_metric("no_such_metric") is None


def test_default_primary_metric_comes_from_the_spec():
    binary = get_task("binary")
    assert binary.default_primary_metric([0.5, 0.5])[0] == "accuracy"
    assert binary.default_primary_metric([0.95, 0.05])[0] == "balanced_accuracy"
    assert binary.default_primary_metric(None)[0] == "accuracy"
    assert get_task("regression").default_primary_metric(None) == (
        "rmse", "regression: root mean squared error")
    for spec in TASKS.values():
        assert spec.default_primary_metric(None)[0] in spec.metric_names
    assert metrics.default_primary_metric("multiclass", [0.6, 0.35, 0.05]) == \
        get_task("multiclass").default_primary_metric([0.6, 0.35, 0.05])


def test_scoring_a_binary_example_through_the_spec_equals_scikit_learn():
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    pred = np.array([0, 1, 0, 0, 1, 1, 1, 1])
    proba = np.array([[.8, .2], [.3, .7], [.6, .4], [.9, .1], [.2, .8], [.4, .6], [.1, .9],
                      [.45, .55]])
    out = get_task("binary").score(y, pred, proba, [0, 1])
    assert tuple(out) == CLASSIFICATION
    expect = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision_macro": skm.precision_score(y, pred, average="macro"),
        "recall_macro": skm.recall_score(y, pred, average="macro"),
        "f1_macro": skm.f1_score(y, pred, average="macro"),
        "roc_auc": skm.roc_auc_score(y, proba[:, 1]),
        "log_loss": skm.log_loss(y, proba),
    }
    assert out == pytest.approx(expect)
    assert metrics.score("binary", y, pred, proba, [0, 1]) == out
    without = get_task("binary").score(y, pred, None, [0, 1])
    assert without["roc_auc"] is None and without["log_loss"] is None


def test_scoring_a_multiclass_example_through_the_spec_equals_scikit_learn():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2], 10)
    proba = rng.dirichlet(np.ones(3), len(y))
    pred = proba.argmax(axis=1)
    out = get_task("multiclass").score(y, pred, proba, [0, 1, 2])
    assert out["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, proba))


def test_scoring_a_regression_example_through_the_spec_equals_scikit_learn():
    y = np.array([1.0, 2.0, 3.5, 4.0, 6.0])
    pred = np.array([1.5, 1.8, 3.0, 4.4, 5.0])
    out = get_task("regression").score(y, pred)
    assert tuple(out) == REGRESSION
    assert out == pytest.approx({"rmse": math.sqrt(skm.mean_squared_error(y, pred)),
                                 "mae": skm.mean_absolute_error(y, pred),
                                 "r2": skm.r2_score(y, pred)})
    # Probabilities mean nothing to a regression spec.
    assert get_task("regression").score(y, pred, np.ones((5, 2)), [0, 1]) == out


def test_the_spec_names_the_paired_test_the_uncertainty_runs():
    y = np.array([0, 1] * 20)
    a, b = y.copy(), y.copy()
    b[:6] = 1 - b[:6]
    out = uncertainty.paired_test("binary", "accuracy", y, (a, None), (b, None), [0, 1],
                                  n_resamples=50)
    assert out["test"] == get_task("binary").paired_test.name == \
        "McNemar's exact test on the test rows"
    assert (out["only_first_right"], out["only_second_right"]) == (6, 0)
    yr = np.linspace(0, 1, 40)
    out = uncertainty.paired_test("regression", "rmse", yr, (yr, None), (yr + 0.1, None), None,
                                  n_resamples=50)
    assert out["test"] == get_task("regression").paired_test.name == \
        "paired bootstrap of the test rows"
    assert set(uncertainty.bootstrap_ci("regression", yr, yr, None, None, n_resamples=20)) == \
        set(REGRESSION)


def test_report_sections_of_each_spec():
    common_before = ["key-differences", "leaderboard", "pareto", "learning-curve", "data-quality",
                     "overfitting"]
    common_after = ["explanations", "gradients", "energy", "deployability", "tuning"]
    for name in ("binary", "multiclass"):
        assert list(get_task(name).report_sections) == [*common_before, "confusion-roc",
                                                        *common_after]
    assert list(get_task("regression").report_sections) == [*common_before, "residuals",
                                                            *common_after]
    for spec in TASKS.values():
        assert set(spec.report_sections) <= set(SECTIONS), spec.name


@pytest.mark.parametrize("name, hint", [("regresion", "did you mean 'regression'?"),
                                        ("multi-class", "did you mean 'multiclass'?"),
                                        ("zzz", "choose from: anomaly, binary, clustering, multiclass, regression")])
def test_an_unknown_task_is_an_input_error_with_a_hint(name, hint):
    with pytest.raises(InputError, match=f"unknown task '{name}'") as err:
        get_task(name)
    assert hint in str(err.value)
    with pytest.raises(InputError):
        metrics.metric_names(name)


def test_a_registered_task_is_seen_everywhere_and_conflicts_are_refused():
    base = get_task("regression")
    spec = replace(base, name="toy_task", description="a toy",
                   metrics=(*base.metrics, Metric("toy_score", True, share=True)))
    assert isinstance(spec, TaskSpec)
    try:
        register_task(spec)
        assert get_task("toy_task") is spec
        assert metrics.GREATER_IS_BETTER["toy_score"] is True
        assert metrics.metric_names("toy_task")[-1] == "toy_score"
        with pytest.raises(ValueError, match="already registered"):
            register_task(spec)
        clash = replace(base, name="clash", metrics=(Metric("rmse", True),))
        with pytest.raises(ValueError, match="declared differently"):
            register_task(clash)
        assert "clash" not in TASKS
    finally:
        TASKS.pop("toy_task", None)
    assert "toy_score" not in metrics.GREATER_IS_BETTER


def test_a_spec_is_checked_when_declared():
    base = get_task("binary")
    with pytest.raises(ValueError, match="distinct"):
        replace(base, metrics=(Metric("a", True), Metric("a", True)))
    with pytest.raises(ValueError, match="kind"):
        replace(base, kind="semi")
    with pytest.raises(ValueError, match="stratified"):
        replace(get_task("regression"), stratified=True)
