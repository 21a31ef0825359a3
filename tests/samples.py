"""Synthetic run directories for tests that read results (the report): no training involved.

``sample_results`` follows the results.json contract of DESIGN.md, the evidence contract of
:mod:`nnvsml.evidence` and the verdict keys of :mod:`nnvsml.verdict`, with the numbers a small
tabular run would produce: two families, five models (one failed, one excluded by a
constraint), every evidence block filled and one analysis failed. ``make_run_dir`` writes it
with plausible test-row predictions, so that confusion matrices, ROC curves and residual plots
have something to draw.

    >>> results = sample_results("binary")
    >>> run_dir = make_run_dir(tmp_path, results)   # results.json + predictions/*.npz
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

FEATURES = ["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
            "mean compactness", "mean concavity", "concave points", "symmetry", "fractal dim",
            "radius se", "texture se", "perimeter se", "area se", "smoothness se",
            "worst radius", "worst texture", "worst area"]
IMAGE_SHAPE = (8, 8)

#: name, family, cv primary score (classification accuracy / regression rmse), fit seconds
MODELS = [
    ("logistic_regression", "traditional", 0.951, 0.21),
    ("lightgbm", "traditional", 0.962, 0.66),
    ("svm", "traditional", None, None),               # failed
    ("mlp", "neural", 0.944, 26.8),
    ("ft_transformer", "neural", 0.940, 61.2),       # excluded by the latency constraint
]
REGRESSION_RMSE = {"logistic_regression": 5.8, "lightgbm": 4.9, "mlp": 5.3, "ft_transformer": 5.6}
RENAMED_FOR_REGRESSION = {"logistic_regression": "ridge_regression"}
EXPLANATIONS = {"logistic_regression": ["coefficients"], "ridge_regression": ["coefficients"],
                "lightgbm": ["importances", "tree_shap"], "svm": [], "mlp": ["gradients"],
                "ft_transformer": ["gradients", "attention"]}
TASK_CLASSES = {"binary": ["benign", "malignant"], "multiclass": [0, 1, 2, 3], "regression": []}


def sample_results(task: str = "binary", evidence: bool = True,
                   failed_analysis: str | None = "data_quality", status: str = "complete") -> dict:
    """A realistic results dict for ``task`` ("binary", "multiclass" or "regression").

    ``failed_analysis`` names the evidence block recorded as failed (None: all succeed).
    """
    rng = np.random.default_rng({"binary": 1, "multiclass": 2, "regression": 3}[task])
    regression = task == "regression"
    metric = "rmse" if regression else "accuracy"
    names = _metric_names(task)
    image = task == "multiclass"
    features = [f"px_{r}_{c}" for r in range(IMAGE_SHAPE[0]) for c in range(IMAGE_SHAPE[1])] \
        if image else FEATURES
    models = [_model(name, family, cv, fit, task, names, rng) for name, family, cv, fit in MODELS]
    results = {
        "schema_version": 1,
        "nnvsml_version": "0.1.0",
        "created": "2026-12-01T08:02:11+0000",
        "updated": "2026-12-01T08:06:54+0000",
        "status": status,
        "dataset": {"name": "digits-8x8" if image else ("housing" if regression else "cancer"),
                    "modality": "image" if image else "tabular", "task": task,
                    "n_rows": 1200 if image else 569, "n_features": len(features),
                    "target": "label" if image else ("price" if regression else "diagnosis"),
                    "classes": TASK_CLASSES[task]},
        "protocol": {"seed": 0, "test_fraction": 0.2, "cv_folds": 5, "budget_seconds": 120.0,
                     "primary_metric": metric, "greater_is_better": not regression,
                     "search": "bayesian", "n_train": 455, "n_test": 114, "validation": "cv",
                     "families": ["traditional", "neural"]},
        "models": models,
        "verdict": _verdict(models, metric, regression),
        "test_comparison": None,
    }
    from nnvsml.tuning.effort import tuning_effort

    results["tuning_effort"] = tuning_effort(results)
    if evidence:
        results["evidence"] = _evidence(models, features, task, metric, rng)
        if failed_analysis:
            results["evidence"][failed_analysis] = {
                "status": "failed", "seconds": 3.2,
                "reason": "the neural refit ran out of memory: 2,048 MB over the 1,024 MB "
                          "limit (--max-memory-mb)"}
    return results


def make_run_dir(tmp_path: Path, results: dict, n_test: int = 120, name: str = "run") -> Path:
    """Write ``results`` as a run directory: results.json, predictions/NAME.npz, _truth.npz."""
    run_dir = Path(tmp_path) / name
    (run_dir / "predictions").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    task = results["dataset"]["task"]
    classes = np.asarray(results["dataset"]["classes"])
    if task == "regression":
        y_true = rng.normal(50.0, 15.0, n_test)
    else:
        y_true = classes[rng.integers(0, len(classes), n_test)]
    np.savez_compressed(run_dir / "predictions" / "_truth.npz", y_true=y_true, classes=classes)
    metric = results["protocol"]["primary_metric"]
    for m in results["models"]:
        if m["status"] != "ok":
            continue
        score = m["test"][metric]
        if task == "regression":
            y_pred, proba = y_true + rng.normal(0.0, score, n_test), np.empty(0)
        else:
            y_pred, proba = _classify(y_true, classes, score, rng)
        np.savez_compressed(run_dir / m["artifacts"]["predictions"], y_pred=y_pred, proba=proba)
    (run_dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return run_dir


def without_evidence(results: dict) -> dict:
    """An older run: no evidence, and a verdict with only the schema-1 keys."""
    old = copy.deepcopy(results)
    old.pop("evidence", None)
    old["verdict"] = {k: old["verdict"][k] for k in ("family", "model", "reasons")}
    return old


# --------------------------------------------------------------------------------------------


def _metric_names(task: str) -> list[str]:
    if task == "regression":
        return ["rmse", "mae", "r2"]
    return ["accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
            "roc_auc", "log_loss"]


def _name(name: str, task: str) -> str:
    return RENAMED_FOR_REGRESSION.get(name, name) if task == "regression" else name


def _model(name: str, family: str, cv_score: float | None, fit: float | None, task: str,
           names: list[str], rng: np.random.Generator) -> dict:
    shown = _name(name, task)
    entry = {"name": shown, "family": family, "status": "ok", "reason": None,
             "description": f"{shown.replace('_', ' ')} (sample)",
             "explanations": EXPLANATIONS[shown], "time_limit_seconds": 20.0}
    if cv_score is None:
        entry.update(status="failed", reason="the solver did not converge within max_iter=2000 "
                     "(a ConvergenceWarning became an error)", test={}, test_ci={}, cv={},
                     cost={}, params={}, training=None, tuning=None, artifacts={})
        return entry
    if task == "regression":
        cv_score = REGRESSION_RMSE[name]
    elif task == "multiclass":
        cv_score -= 0.04
    base = {}
    for metric in names:
        base[metric] = _related(metric, cv_score, task)
    entry["cv"] = {k: _folds(v, rng) for k, v in base.items()}
    train = {k: (v * 0.7 if k in ("rmse", "mae", "log_loss") else min(1.0, v + 0.03))
             for k, v in base.items()}
    entry["cv_train"] = {k: _folds(v, rng) for k, v in train.items()}
    entry["test"] = {k: round(v + float(rng.normal(0, 0.004)), 6) for k, v in base.items()}
    entry["test_ci"] = {k: {"low": round(v - 0.02 * max(1.0, abs(v)), 6),
                            "high": round(v + 0.02 * max(1.0, abs(v)), 6)}
                        for k, v in entry["test"].items()}
    neural = family == "neural"
    entry["cost"] = {"fit_seconds": fit, "cpu_seconds": round(fit * 1.9, 3),
                     "predict_ms_per_1k": 9.0 if neural else 4.5,
                     "latency_ms": 14.2 if name == "ft_transformer" else (2.1 if neural else 0.4),
                     "peak_memory_mb": 569.2 if neural else 310.4,
                     "model_size_kb": 1857.3 if neural else 115.8,
                     "wall_seconds": round(fit * 2.5, 3)}
    entry["params"] = {"lr": 0.001} if neural else {"C": 1.0}
    entry["training"] = ({"n_epochs": 38, "best_epoch": 23, "stopped_by": "early_stopping",
                          "device": "cpu", "n_parameters": 82891} if neural else None)
    primary = "rmse" if task == "regression" else "accuracy"
    higher = task != "regression"
    default = base[primary] + (-0.02 if higher else 0.4)
    history, t = [], 0.0
    for trial in range(1, (3 if neural else 6) + 1):
        t += fit * (1.3 if neural else 4.0) + 0.5
        step = float(rng.normal(0.006 if higher else -0.1, 0.01 if higher else 0.2))
        history.append([round(t, 3), round(default + step * trial / 2, 6)])
    scores = [s for _, s in history]
    entry["tuning"] = {"strategy": "bayesian", "trials": len(history), "seconds": history[-1][0],
                       "history": history, "metric": primary, "default_score": default,
                       "best_score": max(scores) if higher else min(scores)}
    entry["artifacts"] = {"model": f"models/{shown}.joblib",
                          "predictions": f"predictions/{shown}.npz"}
    return entry


def _related(metric: str, primary: float, task: str) -> float:
    if task == "regression":
        return {"rmse": primary, "mae": primary * 0.8, "r2": 1.0 - (primary / 15.0) ** 2}[metric]
    return {"accuracy": primary, "balanced_accuracy": primary - 0.01,
            "precision_macro": primary - 0.005, "recall_macro": primary - 0.01,
            "f1_macro": primary - 0.008, "roc_auc": min(0.999, primary + 0.03),
            "log_loss": (1.0 - primary) * 2.5}[metric]


def _folds(mean: float, rng: np.random.Generator) -> dict:
    folds = [round(mean + float(rng.normal(0, 0.012 * max(1.0, abs(mean)))), 6) for _ in range(5)]
    return {"mean": float(np.mean(folds)), "std": float(np.std(folds, ddof=1)), "folds": folds}


def _verdict(models: list[dict], metric: str, regression: bool) -> dict:
    ok = {m["name"]: m for m in models if m["status"] == "ok"}
    trad, neur = ok["lightgbm"], ok["mlp"]
    t, n = trad["cv"][metric]["mean"], neur["cv"][metric]["mean"]
    fmt = "{:.2f}" if regression else "{:.4f}"
    better = "traditional" if (t < n if regression else t > n) else "neural"

    def row(dimension, label, tv, nv, tf, nf, which, note):
        return {"dimension": dimension, "label": label, "traditional": tf, "neural": nf,
                "traditional_value": tv, "neural_value": nv, "better": which, "note": note}

    tc, nc = trad["cost"], neur["cost"]
    rows = [
        row("accuracy", f"cross-validated {metric}", t, n, fmt.format(t), fmt.format(n), better,
            "paired corrected t-test over 5 folds, p = 0.012"),
        row("training_time", "fit time", tc["fit_seconds"], nc["fit_seconds"],
            f"{tc['fit_seconds']:.2f} s", f"{nc['fit_seconds']:.1f} s", "traditional",
            "40.6x faster"),
        row("inference_latency", "latency (1 row)", tc["latency_ms"], nc["latency_ms"],
            f"{tc['latency_ms']} ms", f"{nc['latency_ms']} ms", "traditional", None),
        row("memory", "peak memory", tc["peak_memory_mb"], nc["peak_memory_mb"],
            f"{tc['peak_memory_mb']:.0f} MB", f"{nc['peak_memory_mb']:.0f} MB", "traditional",
            None),
        row("model_size", "model size", tc["model_size_kb"], nc["model_size_kb"],
            f"{tc['model_size_kb']:.0f} KB", f"{nc['model_size_kb']:,.0f} KB", "traditional",
            None),
        row("data_needed", "rows to reach 95% of the final score", 180, 420, "180", "420",
            "traditional", "from the fitted learning curves"),
        row("noise_sensitivity", "drop under 30% label noise", 0.031, 0.058, "0.031", "0.058",
            "traditional", "positive = worse"),
        row("overfitting", "train - validation gap", 0.021, 0.044, "0.021", "0.044",
            "traditional", None),
        row("tuning_effort", "gain from tuning", 0.008, 0.011, "+0.008", "+0.011", "neural",
            "the network gained more from its trials"),
        row("interpretability", "explanations", None, None, "intrinsic (importances)",
            "post-hoc (SHAP, saliency)", "traditional", None),
        row("energy", "fit energy", 0.004, 0.19, "0.004 Wh", "0.19 Wh", "traditional", None),
        row("gradients", "gradient health", None, None, "n/a", "no vanishing or exploding "
            "layer", None, None),
    ]
    win = trad if better == "traditional" else neur
    return {
        "family": win["family"], "model": win["name"], "decided": True,
        "comparison": {"metric": metric, "traditional_model": trad["name"],
                       "neural_model": neur["name"], "traditional": t, "neural": n,
                       "difference": t - n, "ci_low": t - n - 0.01, "ci_high": t - n + 0.01,
                       "p_value": 0.012, "alpha": 0.05, "folds": 5},
        "reasons": [f"Cross-validated {metric}: {trad['name']} (traditional) {fmt.format(t)} vs "
                    f"{neur['name']} (neural) {fmt.format(n)}; p = 0.012.",
                    f"The difference is significant at the 5% level: {win['name']} "
                    f"({win['family']}) is more accurate by this measure.",
                    f"Cost: {trad['name']} fits 40.6x faster (0.66 vs 26.8 s) than mlp."],
        "priority": "accuracy",
        "constraints": {"max_latency_ms": 10.0, "explainable": False},
        "excluded": [{"model": "ft_transformer", "family": "neural", "constraint": "max_latency_ms",
                      "value": 14.2, "limit": 10.0,
                      "reason": "latency 14.2 ms over the 10 ms limit (--max-latency-ms)"}],
        "facts": ["lightgbm is 0.018 more accurate over 5 folds (p = 0.012).",
                  "The learning curves do not cross within 10x the training rows.",
                  "Under 30% label noise the network loses 0.058, the trees 0.031."],
        "would_change": ["With about 6x more rows the mlp is projected to pass lightgbm "
                         "(90% band 3x to 14x).",
                         "Dropping --max-latency-ms would let ft_transformer compete."],
        # The schema's rows, today's names; a row without a note has an empty one.
        "key_differences": [{**r, "note": r["note"] or ""} for r in rows
                            if r["dimension"] not in ("overfitting", "gradients")],
    }


def _evidence(models: list[dict], features: list[str], task: str, metric: str,
              rng: np.random.Generator) -> dict:
    regression = task == "regression"
    ok = [m for m in models if m["status"] == "ok"]
    best = {"traditional": "lightgbm", "neural": "mlp"}
    sizes = [40, 80, 160, 320, 455]
    sign = -1.0 if regression else 1.0

    def curve(c, a, b, seconds_exponent=1.0):
        pts = []
        for n in sizes:
            mean = c - a * n ** (-b)
            scores = [round(mean + float(rng.normal(0, 0.01 * max(1.0, abs(mean)))), 5)
                      for _ in range(3)]
            pts.append({"size": n, "scores": scores, "mean": float(np.mean(scores)),
                        "std": float(np.std(scores)),
                        "fit_seconds": round(1e-3 * n ** seconds_exponent, 4),
                        "fit_peak_mb": round(0.05 * n, 1)})
        law = {"form": "cost = k * n^e", "rows_projected": 4550,
               "time": {"exponent": seconds_exponent, "k": 1e-3, "r2": 0.99,
                        "at_10x": round(1e-3 * 4550 ** seconds_exponent, 3)},
               "memory": {"exponent": 1.0, "k": 0.05, "r2": 0.98, "at_10x": 227.5}}
        return {"points": pts, "fit": {"form": "score = c - a * n^(-b)", "a": a, "b": b,
                                       "c": c, "r2": 0.97}, "growth": law}

    if regression:
        lc = {"traditional": curve(4.8, -20.0, 0.5), "neural": curve(4.0, -60.0, 0.55)}
    else:
        lc = {"traditional": curve(0.965, 0.6, 0.6), "neural": curve(0.985, 1.6, 0.55, 1.2)}
    for fam, block in lc.items():
        block["model"] = best[fam]
    levels = [0.0, 0.1, 0.2, 0.3]
    kinds = {"label_noise": "fraction of training labels flipped",
             "feature_noise": "noise std / feature std", "missing": "fraction of cells missing",
             "irrelevant": "irrelevant features / real features"}
    perturbations = {}
    for kind, label in kinds.items():
        fams = {}
        for fam, slope in (("traditional", 0.10), ("neural", 0.19)):
            start = lc[fam]["points"][-1]["mean"]
            fams[fam] = {"model": best[fam],
                         "scores": [round(start - sign * slope * lv * (1 + 0.5 * float(
                             rng.random())) * (8.0 if regression else 1.0), 5) for lv in levels]}
        perturbations[kind] = {"levels": levels, "level_label": label,
                               "applies_to": "the training rows only",
                               "families": fams,
                               "drop": {f: round(sign * (v["scores"][0] - v["scores"][-1]), 5)
                                        for f, v in fams.items()}}
    epochs = 12
    layers = ["fc1", "fc2", "fc3", "out"]

    def run(clip):
        norms = [[round(float(0.8 * (i + 1) * np.exp(-e / 8) + 0.05 * rng.random()), 5)
                  for e in range(epochs)] for i in range(len(layers))]
        if clip is None:
            norms[-1] = [round(v * 300, 4) for v in norms[-1]]
        return {"clip": clip, "layers": layers, "norms": norms,
                "max_norms": [[v * 3 for v in layer] for layer in norms],
                "train_loss": [round(0.7 * np.exp(-e / 4) + 0.05, 5) for e in range(epochs)],
                "valid_loss": [round(0.7 * np.exp(-e / 5) + 0.09, 5) for e in range(epochs)],
                "flags": {"vanishing": [], "exploding": [] if clip else ["out"]},
                "validation": 0.94 if clip else 0.92}

    def importance(scale):
        vals = np.sort(rng.exponential(scale, len(features)))[::-1]
        order = rng.permutation(len(features))
        return {features[i]: round(float(v), 5) for i, v in zip(order, vals)}

    shap_t, shap_n = importance(0.08), importance(0.05)
    expl_models = {
        "traditional": {
            "model": best["traditional"],
            "intrinsic": {"kind": "importances", "values": importance(30.0)},
            "shap": {"explainer": "TreeExplainer", "exact": True, "rows": 200,
                     "importance": shap_t},
            "lime": [{"row": i, "prediction": "malignant" if i % 2 else "benign",
                      "weights": {f: round(float(rng.normal(0, 0.1)), 4)
                                  for f in features[:6]}} for i in (3, 17)],
            "rules": {"depth": 3, "fidelity": 0.93,
                      "text": "|--- worst radius <= 16.80\n|   |--- concave points <= 0.05\n"
                              "|   |   |--- class: benign\n|   |--- concave points >  0.05\n"
                              "|   |   |--- class: malignant\n|--- worst radius >  16.80\n"
                              "|   |--- class: malignant\n"},
            "saliency": None},
        "neural": {
            "model": best["neural"], "intrinsic": None,
            "shap": {"explainer": "GradientExplainer", "exact": False, "rows": 100,
                     "importance": shap_n},
            "lime": [{"row": 3, "prediction": "benign",
                      "weights": {f: round(float(rng.normal(0, 0.1)), 4) for f in features[:6]}}],
            "rules": {"depth": 3, "fidelity": 0.88,
                      "text": "|--- worst area <= 880.0\n|   |--- class: benign\n"
                              "|--- worst area >  880.0\n|   |--- class: malignant\n"},
            "saliency": None},
    }
    if task == "multiclass":
        h, w = IMAGE_SHAPE
        yy, xx = np.mgrid[0:h, 0:w]
        maps = [np.exp(-((yy - 2 - k) ** 2 + (xx - 5 + k) ** 2) / 4.0).ravel().round(4).tolist()
                for k in range(4)]
        expl_models["neural"]["saliency"] = {"shape": [h, w], "classes": ["0", "1", "2", "3"],
                                             "maps": maps, "method": "gradient_x_input",
                                             "layout": "image"}
    ranks_t = {f: r for r, f in enumerate(sorted(shap_t, key=shap_t.get, reverse=True))}
    ranks_n = {f: r for r, f in enumerate(sorted(shap_n, key=shap_n.get, reverse=True))}
    rho = float(np.corrcoef([ranks_t[f] for f in features], [ranks_n[f] for f in features])[0, 1])

    def gaps(m):
        tr, va = m["cv_train"][metric]["mean"], m["cv"][metric]["mean"]
        return {"name": m["name"], "family": m["family"], "train": tr, "validation": va,
                "gap": sign * (tr - va)}

    fit_reg = {"train": 0.99, "validation": 0.944, "gap": 0.046, "epochs": 23}
    return {
        "analyses": ["energy", "overfitting", "learning_curve", "data_quality", "gradients",
                     "explanations"],
        "models": best,
        "scored_on": "validation rows of fold 1 (91 rows); the test rows are not used",
        "metric": metric, "higher_is_better": not regression, "seconds": 81.2,
        "learning_curve": {
            "status": "ok", "reason": None, "seconds": 21.0, "metric": metric, "sizes": sizes,
            "repeats": 3, "n_train": 455, "families": lc,
            "crossing": {"status": "extrapolated", "size": 2700.0, "low": 1400.0,
                         "high": 6400.0, "ratio": 5.9, "leader_now": "traditional",
                         "leader_then": "neural",
                         "sentence": "With about 6x more rows (2,700; 90% band 1,400 to 6,400) "
                                     "the mlp is projected to pass lightgbm."}},
        "data_quality": {"status": "ok", "reason": None, "seconds": 30.5, "metric": metric,
                         "rows": 455, "perturbations": perturbations,
                         "not_applicable": {"imbalance": "regression has no classes"
                                            if regression else "already balanced"}},
        "overfitting": {
            "status": "ok", "reason": None, "seconds": 12.0, "metric": metric,
            "models": [gaps(m) for m in ok],
            "regularizers": {
                "model": "mlp", "baseline": fit_reg,
                "ablations": [
                    {"name": "dropout", "off": {"train": 0.998, "validation": 0.931,
                                                "gap": 0.067, "epochs": 21}, "effect": 0.013},
                    {"name": "weight_decay", "off": {"train": 0.993, "validation": 0.940,
                                                     "gap": 0.053, "epochs": 23}, "effect": 0.004},
                    {"name": "early_stopping", "off": {"train": 1.0, "validation": 0.925,
                                                       "gap": 0.075, "epochs": 60},
                     "effect": 0.019}],
                "not_applicable": {"augmentation": "tabular rows have no label-preserving "
                                                   "augmentation"}}},
        "gradients": {"status": "ok", "reason": None, "seconds": 9.0, "model": "mlp",
                      "thresholds": {"vanishing": 1e-6, "exploding": 1e2,
                                     "text": "a layer whose mean norm falls under 1e-6 vanishes; "
                                             "over 1e2 it explodes"},
                      "runs": {"unclipped": run(None), "clipped": run(1.0)}},
        "explanations": {"status": "ok", "reason": None, "seconds": 15.0, "features": features,
                         "models": expl_models,
                         "agreement": {"spearman": rho, "top_k": 5, "top_k_overlap": 0.4,
                                       "pairs": [{"a": "traditional", "b": "neural",
                                                  "spearman": rho}]}},
        "energy": {"status": "ok", "reason": None, "seconds": 0.1,
                   "power_model": {"cpu_watts_per_core": 10.0, "memory_watts_per_gb": 0.375,
                                   "gpu_watts": 0.0, "grid_g_co2_per_kwh": 475.0,
                                   "text": "estimated: 10 W per busy core, 0.375 W per GB, "
                                           "475 g CO2 per kWh (world average)"},
                   "models": [{"name": m["name"], "family": m["family"],
                               "fit_wh": round(m["cost"]["cpu_seconds"] * 10 / 3600, 5),
                               "fit_g_co2": round(m["cost"]["cpu_seconds"] * 10 / 3600 * 0.475,
                                                  5),
                               "predict_wh_per_1k": 0.0001, "predict_g_co2_per_1k": 0.00005,
                               "cpu_seconds": m["cost"]["cpu_seconds"], "gpu_seconds": 0.0}
                              for m in ok]},
        "deployability": {
            "status": "ok", "reason": None, "seconds": 9.0, "threads": 1, "rows": 91,
            "onnx_runtime": "1.32.0",
            "models": {family: {
                "model": name,
                "formats": {"joblib": {"size_kb": 310.0},
                            "safe": {"status": "ok", "reason": None, "size_kb": 290.0,
                                     "files": [f"models/{name}-0.skops"]},
                            "onnx": {"status": "ok", "reason": None, "size_kb": 120.0,
                                     "scope": "pipeline" if family == "traditional"
                                     else "network",
                                     "parity": {"rows": 91, "labels_equal": True,
                                                "max_abs_diff": 3e-7, "ok": True}}},
                "routes": {route: {"status": "ok", "reason": None,
                                   "cold_start_s": 1.2 if route == "onnx" else 2.9,
                                   "load_and_first_s": 0.4, "p50_ms": p50, "p99_ms": 3 * p50,
                                   "single_calls": 200, "rows_per_s": 50000.0 / p50,
                                   "batch_rows": 91, "peak_memory_mb": 140.0}
                           for route, p50 in (("native", 9.0), ("onnx", 0.08 if family ==
                                                                 "traditional" else 0.4))}}
                for family, name in best.items()}},
    }


def _classify(y_true: np.ndarray, classes: np.ndarray, accuracy: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Predictions right about ``accuracy`` of the time, with probabilities that rank well."""
    k = len(classes)
    index = {c: i for i, c in enumerate(classes.tolist())}
    truth = np.array([index[c] for c in y_true.tolist()])
    logits = rng.normal(0.0, 1.0, (len(y_true), k))
    right = rng.random(len(y_true)) < accuracy
    logits[np.arange(len(y_true)), truth] += np.where(right, 3.0, -1.0)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return classes[proba.argmax(axis=1)], proba
