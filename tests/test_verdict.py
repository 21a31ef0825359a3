"""The verdict is a pure function of the results: tested here without training anything."""

from __future__ import annotations

import pytest

from nnvsml.errors import InputError
from nnvsml.verdict import PRIORITIES, check_preferences, compare_pair, decide


def model(name, family, folds, test, fit=1.0, predict=1.0, size=100.0, status="ok",
          metric="accuracy", latency=None, memory=200.0, explanations=(), preprocessing=None):
    mean = sum(folds) / len(folds) if folds else None
    return {
        "name": name, "family": family, "status": status, "reason": None if status == "ok" else "x",
        "cv": {metric: {"mean": mean, "std": 0.01, "folds": folds}} if status == "ok" else {},
        "test": {metric: test} if status == "ok" else {},
        "cost": {"fit_seconds": fit, "predict_ms_per_1k": predict, "model_size_kb": size,
                 "latency_ms": latency, "peak_memory_mb": memory},
        "explanations": list(explanations),
        "params": {"preprocessing": preprocessing or ("trees" if family == "traditional"
                                                      else "standardised, one-hot")},
    }


def results(*models, metric="accuracy", evidence=None, tuning_effort=None):
    r = {"protocol": {"primary_metric": metric, "n_train": 1000,
                      "families": ["traditional", "neural"]},
         "dataset": {"task": "binary"}, "models": list(models)}
    if evidence is not None:
        r["evidence"] = evidence
    if tuning_effort is not None:
        r["tuning_effort"] = tuning_effort
    return r


CROSSING = "with about 3x your rows the mlp is projected to pass lightgbm"


def evidence(trad="lightgbm", neur="mlp", leader_then="neural", energy=None):
    """An evidence block as the contract in nnvsml.evidence describes it."""
    def block(**kw):
        return {"status": "ok", "reason": None, "seconds": 1.0, **kw}

    def curve(name, small, b):
        return {"model": name, "fit": {"form": "score = c - a * n^(-b)", "a": 1.0, "b": b,
                                       "c": 0.9, "r2": 0.99},
                "points": [{"size": 100, "scores": [small] * 3, "mean": small, "std": 0.01},
                           {"size": 1000, "scores": [0.87] * 3, "mean": 0.87, "std": 0.01}]}

    def perturbation(dt, dn):
        return {"levels": [0.0, 0.2], "level_label": "x", "applies_to": "training rows",
                "families": {"traditional": {"model": trad, "scores": [0.87, 0.87 - dt]},
                             "neural": {"model": neur, "scores": [0.85, 0.85 - dn]}},
                "drop": {"traditional": dt, "neural": dn}}

    return {
        "analyses": ["energy", "learning_curve", "data_quality", "explanations"],
        "models": {"traditional": trad, "neural": neur}, "metric": "accuracy",
        "higher_is_better": True, "seconds": 4.0,
        "learning_curve": block(
            metric="accuracy", sizes=[100, 1000], repeats=3, n_train=1000,
            families={"traditional": curve(trad, 0.80, 0.30), "neural": curve(neur, 0.70, 0.55)},
            crossing={"status": "extrapolated", "size": 3000.0, "low": 2000.0, "high": 5000.0,
                      "ratio": 3.0, "leader_now": "traditional", "leader_then": leader_then,
                      "sentence": CROSSING}),
        "data_quality": block(metric="accuracy", rows=1000, not_applicable={}, perturbations={
            "label_noise": perturbation(0.02, 0.08), "missing": perturbation(0.01, 0.04)}),
        "explanations": block(features=["a", "b"], models={}, agreement={
            "spearman": 0.81, "top_k": 5, "top_k_overlap": 0.6, "pairs": []}),
        "energy": block(power_model={"text": "10 W per core"}, models=energy or [
            {"name": trad, "family": "traditional", "fit_wh": 0.01, "predict_wh_per_1k": 0.001},
            {"name": neur, "family": "neural", "fit_wh": 0.5, "predict_wh_per_1k": 0.01}]),
    }


TOP = [0.87, 0.88, 0.86, 0.87, 0.88]
CLOSE = [0.87, 0.87, 0.87, 0.86, 0.88]   # not significantly worse than TOP
WORSE = [0.82, 0.83, 0.80, 0.82, 0.83]   # significantly worse than TOP
NEURAL = [0.84, 0.86, 0.83, 0.84, 0.85]  # significantly worse than TOP


def menu(**evidence_kw):
    """A run with a choice on every priority: the most accurate model (lightgbm), a fast one as
    accurate (knn), a faster one that is not (naive_bayes), a readable one that is not
    (logistic_regression), and a slow network."""
    return results(
        model("lightgbm", "traditional", TOP, 0.872, fit=2.0, predict=400, size=900,
              latency=0.4, explanations=("importances", "tree_shap")),
        model("knn", "traditional", CLOSE, 0.868, fit=0.1, predict=50, size=4000, latency=0.05),
        model("naive_bayes", "traditional", WORSE, 0.82, fit=0.05, predict=10, size=5,
              latency=0.01),
        model("mlp", "neural", NEURAL, 0.85, fit=30.0, predict=800, size=300, latency=0.8,
              explanations=("gradients",)),
        **evidence_kw,
    )


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


# -- priorities --------------------------------------------------------------------------------
def test_default_priority_is_accuracy_with_every_new_key():
    v = decide(menu())
    assert v["model"] == "lightgbm" and v["family"] == "traditional"
    assert v["priority"] == "accuracy" and v["constraints"] == {} and v["excluded"] == []
    assert v["facts"][0] == ("lightgbm's CV accuracy 0.872 ± 0.010 vs mlp 0.844 ± 0.010 "
                             "(p = 0.00073)")
    for key in ("comparison", "reasons", "would_change", "key_differences"):
        assert key in v


def test_speed_picks_the_fastest_model_as_accurate_as_the_best():
    v = decide(menu(), priority="speed")
    assert v["model"] == "knn" and v["family"] == "traditional" and v["decided"]
    # The families' comparison is still reported under any priority.
    assert v["comparison"]["traditional_model"] == "lightgbm"
    text = v["reasons"][-1]
    assert text.startswith("Priority speed") and "0.05 ms per row vs 0.4 for lightgbm" in text
    # naive_bayes is faster still, but significantly less accurate: refused, and said so.
    assert "significantly less accurate, so not chosen: naive_bayes" in text
    assert any("knn's latency 0.05 ms per row vs 0.4" in f for f in v["facts"])


def test_speed_falls_back_to_batch_time_when_latency_is_missing():
    r = menu()
    for m in r["models"]:
        m["cost"]["latency_ms"] = None
    v = decide(r, priority="speed")
    assert v["model"] == "knn" and "batch prediction time 0.05 ms per row" in v["reasons"][-1]


def test_cost_prefers_measured_energy_over_seconds():
    r = menu()
    # By seconds knn is cheapest; the energy analysis says lightgbm is.
    by_seconds = decide(r, priority="cost")
    assert by_seconds["model"] == "knn" and "time to fit and serve" in by_seconds["reasons"][-1]
    r["evidence"] = evidence(energy=[
        {"name": n, "family": f, "fit_wh": wh, "predict_wh_per_1k": 0.0}
        for n, f, wh in [("lightgbm", "traditional", 0.01), ("knn", "traditional", 0.2),
                         ("naive_bayes", "traditional", 0.001), ("mlp", "neural", 1.0)]])
    by_energy = decide(r, priority="cost")
    assert by_energy["model"] == "lightgbm" and "Wh" in by_energy["reasons"][-1]


def test_interpretability_states_its_accuracy_cost():
    r = results(
        model("boosting", "traditional", TOP, 0.87),
        model("logistic_regression", "traditional", WORSE, 0.82, explanations=("coefficients",)),
        model("mlp", "neural", NEURAL, 0.85, explanations=("gradients",)),
    )
    v = decide(r, priority="interpretability")
    assert v["model"] == "logistic_regression" and v["family"] == "traditional"
    text = v["reasons"][-1]
    assert "explains itself (coefficients)" in text and "gives up 5.2 points" in text
    assert "against boosting" in text and "significant at the 5% level" in text


def test_interpretability_falls_back_to_accuracy_when_nothing_explains_itself():
    r = results(model("svm", "traditional", TOP, 0.87),
                model("mlp", "neural", NEURAL, 0.85, explanations=("gradients",)))
    v = decide(r, priority="interpretability")
    assert v["model"] == "svm" and "falls back to accuracy" in v["reasons"][-1]


def test_a_non_accuracy_priority_names_the_family_even_at_a_tie():
    r = results(
        model("svm", "traditional", [0.95, 0.97, 0.93, 0.96, 0.94], 0.95, fit=0.5, latency=2.0),
        model("mlp", "neural", [0.96, 0.95, 0.95, 0.94, 0.96], 0.96, fit=20, latency=0.1),
    )
    assert decide(r)["family"] == "tie"
    v = decide(r, priority="speed")
    assert v["family"] == "neural" and v["model"] == "mlp"


# -- constraints -------------------------------------------------------------------------------
@pytest.mark.parametrize("key, limit, value, gone", [
    ("max_latency_ms", 0.5, 0.8, "mlp"),
    ("max_train_seconds", 10, 30.0, "mlp"),
    ("max_model_mb", 3, 4000 / 1024, "knn"),
])
def test_each_constraint_excludes_a_model_with_its_reason(key, limit, value, gone):
    v = decide(menu(), constraints={"max_model_mb": None, "max_train_seconds": None, key: limit})
    assert v["constraints"] == {key: limit}  # None means no limit, and is dropped
    [e] = v["excluded"]
    assert e["model"] == gone and e["constraint"] == key and e["limit"] == limit
    assert e["value"] == pytest.approx(value)
    assert f"--{key.replace('_', '-')} limit of" in e["reason"]


def test_a_family_with_no_eligible_model_loses_to_the_other_and_the_reason_says_why():
    v = decide(menu(), constraints={"max_latency_ms": 0.5})
    assert v["family"] == "traditional" and v["model"] == "lightgbm" and v["comparison"] is None
    assert "every finished neural model is ruled out by the constraints" in v["reasons"][0]
    assert "mlp: latency 0.8 ms per row > 0.5" in v["reasons"][0]


def test_everything_excluded_is_undecided_with_the_limit_that_would_admit_a_model():
    v = decide(menu(), constraints={"max_latency_ms": 0.005})
    assert v["decided"] is False and v["model"] is None and v["family"] == "tie"
    assert len(v["excluded"]) == 4
    assert "No model meets the constraints" in v["reasons"][0]
    assert "raise --max-latency-ms to 0.01 ms per row (admits naive_bayes)" in v["reasons"][1]
    assert v["would_change"] == ["raising --max-latency-ms to 0.01 ms per row would admit "
                                 "naive_bayes (traditional)"]


def test_require_explanations_keeps_only_models_that_explain_themselves():
    v = decide(menu(), constraints={"require_explanations": True})
    assert v["model"] == "lightgbm"
    assert {e["model"] for e in v["excluded"]} == {"knn", "naive_bayes", "mlp"}
    assert all(e["constraint"] == "require_explanations" for e in v["excluded"])
    assert "post-hoc only: gradients" in next(e for e in v["excluded"]
                                               if e["model"] == "mlp")["reason"]


def test_an_unmeasured_value_is_kept_and_said_so():
    r = menu()
    r["models"][3]["cost"].update(latency_ms=None, predict_ms_per_1k=None)
    v = decide(r, constraints={"max_latency_ms": 0.5})
    assert not any(e["model"] == "mlp" for e in v["excluded"])
    assert "latency of mlp was not measured, so --max-latency-ms could not be checked" in \
        v["reasons"][-1]


# -- preferences are checked before anything trains --------------------------------------------
def test_check_preferences_rejects_bad_input_with_the_fix():
    check_preferences("speed", {"max_latency_ms": 1.0, "require_explanations": True})
    with pytest.raises(InputError, match="unknown priority 'sped'; did you mean 'speed'"):
        check_preferences("sped")
    with pytest.raises(InputError, match="--max-train-seconds must be a positive number"):
        check_preferences("accuracy", {"max_train_seconds": -5})
    with pytest.raises(InputError, match="unknown constraint 'max_latency'; did you mean"):
        check_preferences("accuracy", {"max_latency": 1})
    with pytest.raises(InputError):
        decide(menu(), priority="fast")
    assert set(PRIORITIES) == {"accuracy", "interpretability", "speed", "cost"}


# -- what would change it ----------------------------------------------------------------------
def test_would_change_lists_the_crossing_other_priorities_limits_and_the_gap():
    v = decide(menu(evidence=evidence()))
    changes = v["would_change"]
    assert CROSSING in changes
    assert "with --priority speed: knn (traditional)" in changes
    assert ("a latency limit under 0.4 ms per row (--max-latency-ms) would rule out lightgbm "
            "and pick knn (traditional)") in changes
    assert any(c.startswith("mlp trails lightgbm by 2.8 points of CV accuracy; closing")
               for c in changes)
    # The crossing is only news when it favours the other family.
    same = decide(menu(evidence=evidence(leader_then="traditional")))
    assert CROSSING not in same["would_change"]


# -- key differences ---------------------------------------------------------------------------
DIMENSIONS = ["accuracy", "data_needed", "noise_sensitivity", "training_time",
              "inference_latency", "memory", "model_size", "energy", "deployability",
              "tuning_effort", "interpretability", "feature_engineering"]


def test_key_differences_has_every_dimension_in_order_with_the_better_family():
    effort = {"metric": "accuracy", "families": {
        "traditional": {"mean_gain": 0.002, "max_gain": 0.004, "trials": 40, "seconds": 10},
        "neural": {"mean_gain": 0.03, "max_gain": 0.03, "trials": 20, "seconds": 60}}}
    v = decide(menu(evidence=evidence(), tuning_effort=effort), constraints={"max_latency_ms": 0.5})
    rows = {r["dimension"]: r for r in v["key_differences"]}
    assert [r["dimension"] for r in v["key_differences"]] == DIMENSIONS
    # The table compares the families' best whatever the constraints: mlp is still in it.
    assert rows["accuracy"]["neural"].startswith("mlp: CV 0.844 ± 0.010, test 0.850")
    better = {k: r["better"] for k, r in rows.items()}
    assert better == {
        "accuracy": "traditional", "data_needed": "traditional",
        "noise_sensitivity": "traditional", "training_time": "traditional",
        "inference_latency": "traditional", "memory": "same", "model_size": "neural",
        "energy": "traditional", "deployability": None, "tuning_effort": "traditional",
        "interpretability": "traditional", "feature_engineering": None}
    assert rows["noise_sensitivity"]["traditional_value"] == pytest.approx(0.015)
    assert "label_noise +0.020 vs +0.080" in rows["noise_sensitivity"]["note"]
    assert CROSSING in rows["data_needed"]["note"]
    assert "Spearman rho 0.81" in rows["interpretability"]["note"]
    assert "smaller gain is better" in rows["tuning_effort"]["note"]
    assert rows["feature_engineering"]["traditional"] == "trees"


def test_missing_evidence_reads_not_measured_with_the_analysis_to_run():
    r = menu(evidence={"learning_curve": {"status": "timeout", "reason": "over 60 s",
                                          "seconds": 60.0}})
    rows = {row["dimension"]: row for row in decide(r)["key_differences"]}
    for key, analysis in [("data_needed", "learning_curve"), ("noise_sensitivity",
                                                              "data_quality"),
                          ("energy", "energy")]:
        assert rows[key]["traditional"] == rows[key]["neural"] == "not measured"
        assert rows[key]["traditional_value"] is None and rows[key]["better"] is None
        assert f"--analyses {analysis}" in rows[key]["note"]
    assert "learning_curve analysis timeout (over 60 s)" in rows["data_needed"]["note"]
    assert rows["tuning_effort"]["traditional"] == "not measured"
    # Costs need no analysis: they come with every model.
    assert rows["training_time"]["better"] == "traditional"


def test_key_differences_with_one_family_missing():
    v = decide(results(model("lightgbm", "traditional", TOP, 0.87),
                       model("mlp", "neural", [], None, status="failed")))
    rows = {r["dimension"]: r for r in v["key_differences"]}
    assert rows["accuracy"]["neural"] == "not measured" and rows["accuracy"]["better"] is None
    assert "no finished neural model" in rows["training_time"]["note"]


# -- display -----------------------------------------------------------------------------------
def test_show_verdict_prints_what_would_change_it_and_the_exclusions():
    from rich.console import Console

    from nnvsml.display import show_verdict

    console = Console(record=True, width=200)
    show_verdict(decide(menu(evidence=evidence()), constraints={"max_train_seconds": 10}),
                 console)
    text = console.export_text()
    assert "What would change it" in text and CROSSING in text
    assert "excluded by constraints: mlp (max_train_seconds 30 > 10)" in text


def test_would_change_says_which_relaxed_limit_would_let_a_better_model_in():
    r = results(model("lightgbm", "traditional", NEURAL, 0.85, latency=0.1),
                model("cnn", "neural", TOP, 0.87, latency=1.23))
    v = decide(r, constraints={"max_latency_ms": 1.0})
    assert v["model"] == "lightgbm"
    assert ("raising --max-latency-ms to 1.23 ms per row would pick cnn (neural)"
            in v["would_change"])
    assert decide(r, constraints={"max_latency_ms": 1.23})["model"] == "cnn"


def _deployability(served: dict) -> dict:
    """A deployability block: model -> {route: p50 ms} (cold start and throughput fixed)."""
    models = {}
    for family, (name, routes) in served.items():
        models[family] = {"model": name, "formats": {
            "safe": {"status": "ok", "reason": None, "size_kb": 120.0},
            "onnx": {"status": "ok", "reason": None, "size_kb": 80.0, "scope": "pipeline"}},
            "routes": {route: {"status": "ok", "reason": None, "p50_ms": p50, "p99_ms": 2 * p50,
                               "cold_start_s": 1.5, "rows_per_s": 1e5, "peak_memory_mb": 150.0}
                       for route, p50 in routes.items()}}
    return {"status": "ok", "reason": None, "seconds": 3.0, "threads": 1, "rows": 500,
            "models": models}


def test_the_latency_limit_is_checked_against_the_served_latency_when_it_was_measured():
    # In the comparison the boosted trees answered in 12 ms a row (pandas and pipeline overhead);
    # served through ONNX Runtime they answer in 0.05 ms. A 1 ms limit keeps them.
    trad = model("lightgbm", "traditional", [0.90, 0.91, 0.92], 0.91, latency=12.0)
    neur = model("mlp", "neural", [0.85, 0.86, 0.85], 0.85, latency=15.0)
    ev = {"analyses": ["deployability"], "models": {"traditional": "lightgbm", "neural": "mlp"},
          "metric": "accuracy", "higher_is_better": True, "seconds": 3.0, "scored_on": "x",
          "deployability": _deployability({"traditional": ("lightgbm", {"native": 12.0,
                                                                         "onnx": 0.05}),
                                           "neural": ("mlp", {"native": 15.0})})}
    without = decide(results(trad, neur), constraints={"max_latency_ms": 1.0})
    assert {e["model"] for e in without["excluded"]} == {"lightgbm", "mlp"}
    served = decide(results(trad, neur, evidence=ev), constraints={"max_latency_ms": 1.0})
    assert [e["model"] for e in served["excluded"]] == ["mlp"]
    assert served["model"] == "lightgbm"
    row = next(r for r in served["key_differences"] if r["dimension"] == "deployability")
    assert row["traditional_value"] == 0.05 and row["neural_value"] == 15.0
    assert row["better"] == "traditional"
    assert row["traditional"].startswith("ONNX Runtime: 0.05 ms p50")
    assert "cold start 1.5 s" in row["neural"]


def test_the_deployability_row_says_how_to_measure_it_when_the_analysis_did_not_run():
    trad = model("lightgbm", "traditional", [0.90, 0.91, 0.92], 0.91)
    neur = model("mlp", "neural", [0.85, 0.86, 0.85], 0.85)
    row = next(r for r in decide(results(trad, neur))["key_differences"]
               if r["dimension"] == "deployability")
    assert row["better"] is None and "--analyses deployability" in row["note"]
