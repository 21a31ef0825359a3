"""Real models on small real data, end to end, through the Python entry point."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

import nnvsml
from nnvsml.metrics import CLASSIFICATION_METRICS
from nnvsml.models import REGISTRY

ALL_MODELS = ["logistic_regression", "naive_bayes", "decision_tree", "knn", "lightgbm",
              "random_forest", "svm", "mlp", "ft_transformer"]


@pytest.fixture(scope="module")
def cancer_run(tmp_path_factory, cancer_df):
    out = tmp_path_factory.mktemp("runs") / "cancer"
    # 90 s of analyses: each analysis that refits the network pays a few seconds in its own
    # process before its first fit, and at 50 s the overfitting analysis had time for its
    # baseline only; at 75 s, on a slow day, the explanations had no time left for LIME. At --budget 45 no candidate had time for 5 tuning trials.
    return nnvsml.compare(cancer_df, target="diagnosis", budget=60, out=out, seed=0,
                          analysis_budget=90)


def test_every_candidate_of_both_families_finishes(cancer_run):
    lb = cancer_run.leaderboard
    assert set(lb["model"]) == set(ALL_MODELS)
    assert (lb["status"] == "ok").all(), lb[["model", "status", "reason"]]
    best = lb[lb["best_in_family"]].set_index("family")
    assert best.loc["traditional", "test_accuracy"] >= 0.93
    assert best.loc["neural", "test_accuracy"] >= 0.90
    assert lb["test_roc_auc"].min() > 0.85


def test_results_json_keeps_the_contract(cancer_run):
    r = json.loads((cancer_run.run_dir / "results.json").read_text())
    assert r["schema_version"] == 1 and r["status"] == "complete"
    assert {"name", "modality", "task", "n_rows", "n_features", "target"} <= set(r["dataset"])
    assert r["dataset"]["task"] == "binary" and r["dataset"]["n_rows"] == 569
    assert {"seed", "test_fraction", "cv_folds", "budget_seconds", "primary_metric"} <= set(r["protocol"])
    for m in r["models"]:
        assert m["family"] in ("traditional", "neural")
        assert set(CLASSIFICATION_METRICS) <= set(m["test"])
        assert set(CLASSIFICATION_METRICS) <= set(m["cv"])
        # How much of the protocol each model got under the budget, and its scores to match.
        evaluation = m["evaluation"]
        folds = m["cv"]["accuracy"]["folds"]
        assert {"mean", "std"} <= set(m["cv"]["accuracy"])
        if evaluation["level"] == "cross_validated":
            assert len(folds) == 5 and evaluation["folds"] == 5
        else:
            assert evaluation["level"] == "validation_only" and 2 <= len(folds) <= 10
            assert evaluation["second_stage"]["reason"]  # why it got no folds
        assert m["validation_blocks"]["accuracy"]  # every model is scored on the same blocks
        for key in ("fit_seconds", "cpu_seconds", "predict_ms_per_1k", "peak_memory_mb", "model_size_kb"):
            assert m["cost"][key] > 0, (m["name"], key)
        assert isinstance(m["params"], dict) and m["params"]
    v = r["verdict"]
    assert v["family"] in ("traditional", "neural", "tie") and v["model"] in ALL_MODELS
    assert v["reasons"] and v["comparison"]["metric"] == "accuracy"
    # The split is recorded, the SVM's large-data rule too.
    svm = next(m for m in r["models"] if m["name"] == "svm")
    assert "exact" in svm["params"]["svm_rule"]
    nets = [m for m in r["models"] if m["family"] == "neural"]
    assert all(m["training"]["stopped_by"] in ("early_stopping", "time_limit", "max_epochs") for m in nets)
    assert all(m["training"]["device"] in ("cpu", "cuda") for m in nets)
    # Tuned by default (TPE); a candidate too short of time for it says so.
    assert r["protocol"]["search"] == "bayesian"
    for m in r["models"]:
        t = m["tuning"]
        assert set(t["best_params"]) == set(REGISTRY[m["name"]].space)
        assert (t["strategy"] == "bayesian" or "fewer than 5 trials" in t["reason"]
                or m["evaluation"]["level"] == "validation_only")
    # Whether any of the nine has time for 5 trials in 60 s depends on the machine (on a slow
    # one none had, each saying why above); that TPE tunes is tested where the time is sized
    # for it (test_tuning_e2e.py).
    assert sum(m["evaluation"]["level"] == "cross_validated" for m in r["models"]) >= 5


def test_saved_models_take_the_raw_table(cancer_run, cancer_df):
    features = cancer_df.drop(columns="diagnosis").head(20)
    for name in ("lightgbm", "mlp"):
        entry = next(m for m in cancer_run.results["models"] if m["name"] == name)
        model = joblib.load(cancer_run.run_dir / entry["artifacts"]["model"])
        pred = model.predict(features)
        assert set(pred) <= {"benign", "malignant"}
        assert np.allclose(model.predict_proba(features).sum(axis=1), 1.0)
    assert (cancer_run.run_dir / "leaderboard.csv").exists()
    assert (cancer_run.run_dir.stat().st_mode & 0o077) == 0  # private: data can be personal


def test_regression_end_to_end(tmp_path):
    bunch = load_diabetes(as_frame=True)
    # Untuned (tuning has its own tests): the suite stays inside CI's time.
    result = nnvsml.compare(bunch.frame, target="target", budget=60, out=tmp_path / "r",
                            search="none",
                            models=["ridge_regression", "lightgbm", "svm", "random_forest", "mlp"],
                            analyses="none", report=False)
    lb = result.leaderboard.set_index("model")
    assert result.results["dataset"]["task"] == "regression"
    assert result.results["protocol"]["primary_metric"] == "rmse"
    assert (lb["status"] == "ok").all()
    assert lb.loc["ridge_regression", "test_r2"] > 0.3
    assert lb.loc["mlp", "test_r2"] > 0.2
    # SVR's defaults are in target units: without a standardized target its error stays near the
    # target's standard deviation (~77); with it, it is within 10% of ridge's.
    ridge = lb.loc["ridge_regression", "cv_rmse_mean"]
    assert lb.loc["svm", "cv_rmse_mean"] < 1.1 * ridge
    assert lb.loc["random_forest", "cv_rmse_mean"] < 1.1 * ridge
    assert lb.loc["ridge_regression", "test_rmse"] < bunch.frame["target"].std()


def test_multiclass_with_string_labels(tmp_path):
    bunch = load_wine(as_frame=True)
    df = bunch.frame.assign(target=bunch.frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"}))
    result = nnvsml.compare(df, budget=30, out=tmp_path / "w", search="none",
                            models=["logistic_regression", "random_forest", "ft_transformer"],
                            analyses="none", report=False)
    lb = result.leaderboard.set_index("model")
    assert result.results["dataset"]["task"] == "multiclass"
    assert (lb["status"] == "ok").all()
    assert lb.loc["logistic_regression", "test_accuracy"] > 0.9
    assert lb.loc["ft_transformer", "test_accuracy"] > 0.8
    assert lb["test_roc_auc"].notna().all()  # one-vs-rest, from probabilities


def test_mixed_column_kinds_with_missing_values(tmp_path):
    """Strings, booleans, dates, an ID, a high-cardinality column and gaps: every family copes."""
    rng = np.random.default_rng(0)
    n = 400
    city = rng.choice([f"city_{i}" for i in range(80)], n)
    colour = rng.choice(["red", "green", "blue"], n)
    x = rng.normal(size=n)
    signal = x + (colour == "red") * 1.5 + (np.char.endswith(city.astype(str), "7")) * 1.0
    df = pd.DataFrame({
        "customer_id": np.arange(1000, 1000 + n),
        "x": np.where(rng.random(n) < 0.1, np.nan, x),
        "colour": np.where(rng.random(n) < 0.1, None, colour),
        "city": city,
        "member": rng.choice([True, False], n),
        "signup": pd.date_range("2020-01-01", periods=n, freq="D").astype(str),
        "label": np.where(signal + rng.normal(scale=0.5, size=n) > 0.7, "yes", "no"),
    })
    path = tmp_path / "mixed.csv"
    df.to_csv(path, index=False)
    result = nnvsml.compare(path, target="label", budget=90, out=tmp_path / "m", search="none",
                            models=["logistic_regression", "decision_tree", "lightgbm", "svm",
                                    "knn", "naive_bayes", "mlp"],
                            analyses="none", report=False)
    kinds = {c["name"]: c["kind"] for c in result.results["dataset"]["columns"]}
    assert kinds["customer_id"] == "id" and kinds["city"] == "high_cardinality"
    assert kinds["signup"] == "datetime" and kinds["colour"] == "categorical"
    lb = result.leaderboard.set_index("model")
    assert (lb["status"] == "ok").all(), lb["reason"]
    assert lb["test_accuracy"].max() > 0.75


def test_evidence_on_each_familys_best(cancer_run):
    """Every analysis ran on the two families' best models, within its time, and measured
    what it claims to: the shapes here are the contract the verdict and the report read."""
    r = cancer_run.results
    ev = r["evidence"]
    best = {f: cancer_run.leaderboard.query("best_in_family").set_index("family").loc[f, "model"]
            for f in ("traditional", "neural")}
    assert ev["models"] == best
    for name in ("energy", "overfitting", "learning_curve", "data_quality", "gradients",
                 "explanations"):
        assert ev[name]["status"] == "ok", (name, ev[name].get("reason"))
    assert ev["seconds"] <= 90 + 15  # --analysis-budget 90, plus the last process's exit

    lc = ev["learning_curve"]
    assert len(lc["sizes"]) >= 5 and lc["sizes"] == sorted(lc["sizes"])
    for fam in lc["families"].values():
        assert [p["size"] for p in fam["points"]] == lc["sizes"]
        assert lc["repeats"] >= 2 and all(len(p["scores"]) == lc["repeats"] for p in fam["points"])
        # More rows help: the largest size scores better than the smallest.
        assert fam["points"][-1]["mean"] > fam["points"][0]["mean"]
        # What each fit cost, and the law fitted to it (at a few hundred rows a fit's fixed
        # costs dominate, so the exponent may be near 0 here; its recovery is tested on known
        # laws in test_evidence.py).
        assert all(p["fit_seconds"] > 0 and p["fit_peak_mb"] >= 0 for p in fam["points"])
        growth = fam["growth"]
        assert growth["rows_projected"] == 10 * lc["available_rows"]
        assert np.isfinite(growth["time"]["exponent"]) and growth["time"]["at_10x"] > 0
    assert lc["crossing"]["status"] in ("measured", "extrapolated", "none")
    assert lc["crossing"]["sentence"]

    noise = ev["data_quality"]["perturbations"]["label_noise"]
    assert noise["levels"] == [0.0, 0.1, 0.2, 0.3]
    # Thirty per cent of wrong labels costs at least one family accuracy.
    assert max(noise["drop"].values()) > 0.02
    assert set(ev["data_quality"]["perturbations"]) == {
        "label_noise", "feature_noise", "missing", "irrelevant", "imbalance"}

    gaps = {m["name"]: m for m in ev["overfitting"]["models"]}
    assert set(gaps) == set(ALL_MODELS)
    assert gaps["decision_tree"]["train"] >= gaps["decision_tree"]["validation"]
    ablations = {a["name"] for a in ev["overfitting"]["regularizers"]["ablations"]}
    assert {"weight_decay", "early_stopping"} <= ablations

    runs = ev["gradients"]["runs"]
    assert set(runs) == {"clipped", "unclipped"}
    for run in runs.values():
        assert run["layers"] and len(run["norms"]) == len(run["layers"])
        assert all(len(n) == run["epochs"] for n in run["norms"])
        assert run["train_loss"][-1] < run["train_loss"][0]

    ex = ev["explanations"]
    for fam in ("traditional", "neural"):
        shap_block = ex["models"][fam]["shap"]
        assert abs(sum(shap_block["importance"].values()) - 1.0) < 0.05 or \
            len(shap_block["importance"]) == 30
        assert ex["models"][fam]["lime"] and ex["models"][fam]["rules"]["fidelity"] > 0.8
    assert ex["models"]["neural"]["shap"]["explainer"] == "KernelExplainer"
    # Both families lean on the same kind of measurement (the cell nuclei's size and shape).
    assert ex["agreement"]["spearman"] > 0.2

    energy = {m["name"]: m for m in ev["energy"]["models"]}
    assert set(energy) == set(ALL_MODELS) and all(m["fit_wh"] > 0 for m in energy.values())

    v = r["verdict"]
    dims = [row["dimension"] for row in v["key_differences"]]
    assert dims == ["accuracy", "data_needed", "noise_sensitivity", "training_time",
                    "inference_latency", "memory", "model_size", "energy", "deployability",
                    "tuning_effort", "interpretability", "feature_engineering"]
    assert v["priority"] == "accuracy" and v["would_change"]
    html = (cancer_run.run_dir / "report.html").read_text()
    assert r["report"]["status"] == "ok" and html.index('id="verdict"') < html.index(
        'id="learning-curve"')
