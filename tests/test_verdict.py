"""The verdict is a pure function of the results: tested here without training anything."""

from __future__ import annotations

import pytest

from nnvsml.verdict import compare_pair, decide


def model(name, family, folds, test, fit=1.0, predict=1.0, size=100.0, status="ok", metric="accuracy"):
    mean = sum(folds) / len(folds) if folds else None
    return {
        "name": name, "family": family, "status": status, "reason": None if status == "ok" else "x",
        "cv": {metric: {"mean": mean, "std": 0.01, "folds": folds}} if status == "ok" else {},
        "test": {metric: test} if status == "ok" else {},
        "cost": {"fit_seconds": fit, "predict_ms_per_1k": predict, "model_size_kb": size},
    }


def results(*models, metric="accuracy"):
    return {"protocol": {"primary_metric": metric, "n_train": 1000,
                         "families": ["traditional", "neural"]},
            "dataset": {"task": "binary"}, "models": list(models)}


def test_clear_traditional_win_is_significant_and_confirmed_by_test_rows():
    r = results(
        model("lightgbm", "traditional", [0.87, 0.88, 0.86, 0.87, 0.88], 0.872, fit=1, predict=2),
        model("logistic_regression", "traditional", [0.84, 0.85, 0.84, 0.85, 0.84], 0.845),
        model("mlp", "neural", [0.84, 0.85, 0.83, 0.84, 0.85], 0.85, fit=30, predict=10),
    )
    v = decide(r)
    assert v["family"] == "traditional" and v["model"] == "lightgbm"
    c = v["comparison"]
    assert c["traditional_model"] == "lightgbm" and c["neural_model"] == "mlp"
    assert c["difference"] == pytest.approx(0.03)
    assert c["p_value"] < 0.05 and c["ci_low"] > 0
    assert c["test_rows"]["agrees"] is True
    text = " ".join(v["reasons"])
    assert "significant" in text and "30.0x faster" in text and "confirms" in text


def test_difference_inside_the_noise_is_a_tie_decided_on_cost():
    r = results(
        model("svm", "traditional", [0.95, 0.97, 0.93, 0.96, 0.94], 0.95, fit=0.5, predict=1),
        model("mlp", "neural", [0.96, 0.95, 0.95, 0.94, 0.96], 0.96, fit=20, predict=5),
    )
    v = decide(r)
    assert v["family"] == "tie"
    assert v["model"] == "svm"  # the cheaper one
    assert v["comparison"]["p_value"] >= 0.05
    assert v["comparison"]["ci_low"] < 0 < v["comparison"]["ci_high"]
    assert "inside the noise" in v["reasons"][1] and "lower cost" in v["reasons"][1]


def test_neural_win_with_lower_is_better_metric():
    m = "rmse"
    r = results(
        model("ridge_regression", "traditional", [10.0, 11.0, 10.5, 10.8, 10.2], 10.4, metric=m),
        model("ft_transformer", "neural", [8.0, 8.4, 8.1, 8.3, 8.2], 8.1, metric=m),
        metric=m,
    )
    v = decide(r)
    assert v["family"] == "neural" and v["model"] == "ft_transformer"
    assert v["comparison"]["difference"] > 0  # traditional minus neural: the neural error is lower


def test_test_rows_that_contradict_the_cv_are_flagged():
    r = results(
        model("lightgbm", "traditional", [0.90, 0.91, 0.90, 0.91, 0.90], 0.80),
        model("mlp", "neural", [0.85, 0.86, 0.85, 0.86, 0.85], 0.85),
    )
    v = decide(r)
    assert v["family"] == "traditional"
    assert v["comparison"]["test_rows"]["agrees"] is False
    assert "contradicts" in v["reasons"][-1]


def test_one_family_failed():
    r = results(
        model("lightgbm", "traditional", [0.9] * 5, 0.9),
        model("mlp", "neural", [], None, status="timeout"),
    )
    v = decide(r)
    assert v["family"] == "traditional" and v["comparison"] is None
    assert "mlp timeout" in v["reasons"][0]


def test_nothing_finished_is_not_a_decision():
    v = decide(results(model("mlp", "neural", [], None, status="failed")))
    assert v["decided"] is False and v["model"] is None


def test_corrected_t_test_is_wider_than_the_naive_one():
    a = model("a", "traditional", [0.80, 0.82, 0.81, 0.83, 0.80], 0.8)
    b = model("b", "neural", [0.79, 0.80, 0.80, 0.81, 0.79], 0.8)
    c = compare_pair(a, b, "accuracy", 1000)
    diffs = [0.01, 0.02, 0.01, 0.02, 0.01]
    mean = sum(diffs) / 5
    sd = (sum((d - mean) ** 2 for d in diffs) / 4) ** 0.5
    naive_half = 2.776 * sd / 5 ** 0.5
    assert (c["ci_high"] - c["ci_low"]) / 2 > naive_half


def test_holdout_blocks_use_the_uncorrected_paired_test():
    trad = model("rbf_svm_pixels", "traditional", [0.97, 0.96, 0.975, 0.97, 0.965] * 2, 0.97)
    neur = model("cnn", "neural", [0.99, 0.985, 0.99, 0.992, 0.988] * 2, 0.991)
    cv = compare_pair(trad, neur, "accuracy", 48_000)
    held = compare_pair(trad, neur, "accuracy", 48_000, holdout=True)
    assert held["test"].startswith("paired t-test over disjoint blocks")
    # Same mean difference; no Nadeau-Bengio widening for disjoint blocks of one validation part.
    assert held["difference"] == pytest.approx(cv["difference"])
    assert held["ci_high"] - held["ci_low"] < cv["ci_high"] - cv["ci_low"]
    r = results(trad, neur)
    r["protocol"]["validation"] = "holdout"
    v = decide(r)
    assert v["family"] == "neural" and v["reasons"][0].startswith("Validation accuracy")
