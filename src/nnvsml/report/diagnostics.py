"""Test-row diagnostics of each family's best model, from the saved predictions: confusion
matrices and ROC curves for classification, residual plots for regression (each task's spec
lists the sections that apply, :mod:`nnvsml.tasks`)."""

from __future__ import annotations

import numpy as np

from nnvsml.report import plots
from nnvsml.report.blocks import Note, Section, section
from nnvsml.report.load import Predictions, Run, Truth

FAMILIES = ("traditional", "neural")
NO_TRUTH = ("predictions/_truth.npz is missing, so the test rows' labels are unknown (runs "
            "made before the report existed do not write it)")
MAX_POINTS = 3000  # a residual scatter of more points is a blot, and a heavy PNG


def best_with_predictions(run: Run) -> list[tuple[str, dict, Predictions | None]]:
    """Each family's best model with its test-row predictions (None where unreadable)."""
    return [(f, run.best[f], run.predictions(run.best[f])) for f in FAMILIES if f in run.best]


@section("confusion-roc", "Confusion matrices and ROC curves",
         "Claim tested: held-out accuracy, precision, recall and ROC-AUC. Where each family's "
         "best model errs on the test rows (colour = share of the true class), and how well its "
         "probabilities rank (one-vs-rest macro average for several classes).")
def confusion_roc(out: Section, run: Run) -> None:
    truth = run.truth
    if truth is None:
        out.fail("not available", NO_TRUTH)
        return
    best = best_with_predictions(run)
    if not best:
        out.fail("not available", "no family has a finished model")
        return
    panels, curves = [], []
    for family, model, pred in best:
        if pred is None:
            out.blocks.append(Note(f"{model['name']}: no readable predictions file."))
            continue
        panels.append({"family": family, "model": model["name"], "classes": truth.classes,
                       "matrix": confusion_matrix(truth, pred.y_pred)})
        if pred.proba is None:
            out.blocks.append(Note(f"{model['name']} gives no probabilities: no ROC curve."))
            continue
        curve = roc_curve(truth, pred.proba)
        if curve is None:
            out.blocks.append(Note(f"{model['name']}: its probabilities do not match the "
                                   f"classes, or the test rows hold one class only."))
            continue
        curves.append({"family": family, "model": model["name"], **curve})
    names = " and ".join(p["model"] for p in panels)
    out.plot(plots.confusion(panels), f"Confusion matrices on the test rows of {names}")
    out.plot(plots.roc(curves), "ROC curves on the test rows of "
             + " and ".join(c["model"] for c in curves) + ", with their AUC")


@section("residuals", "Residuals",
         "Claim tested: held-out error (RMSE, MAE). Each family's best model's residuals on the "
         "test rows against its prediction: a good model scatters evenly around zero, a funnel "
         "or a curve shows what it misses.")
def residuals(out: Section, run: Run) -> None:
    truth = run.truth
    if truth is None:
        out.fail("not available", NO_TRUTH)
        return
    panels = []
    rng = np.random.default_rng(0)
    y_true = np.asarray(truth.y_true, dtype=float)
    for family, model, pred in best_with_predictions(run):
        if pred is None or len(pred.y_pred) != len(y_true):
            out.blocks.append(Note(f"{model['name']}: no readable predictions file."))
            continue
        y_pred = np.asarray(pred.y_pred, dtype=float)
        keep = np.arange(len(y_true))
        if len(keep) > MAX_POINTS:
            keep = np.sort(rng.choice(keep, MAX_POINTS, replace=False))
        panels.append({"family": family, "model": model["name"], "predicted": y_pred[keep],
                       "residual": (y_true - y_pred)[keep]})
    target = str(run.results["dataset"].get("target") or "value")
    out.plot(plots.residuals(panels, target), "Scatter of test-row residuals against predicted "
             "value for " + " and ".join(p["model"] for p in panels))
    if not panels:
        out.fail("not available", "no readable predictions of a best model")


def confusion_matrix(truth: Truth, y_pred: np.ndarray) -> np.ndarray:
    """Counts, rows = true class, columns = predicted, in the truth file's class order."""
    index = {c: i for i, c in enumerate(truth.classes)}
    k = len(truth.classes)
    matrix = np.zeros((k, k), dtype=int)
    for t, p in zip(truth.y_true.tolist(), np.asarray(y_pred).tolist()):
        if t in index and p in index:
            matrix[index[t], index[p]] += 1
    return matrix


def roc_curve(truth: Truth, proba: np.ndarray) -> dict | None:
    """{fpr, tpr, auc, macro}: the positive class's curve for two classes; for more, the
    one-vs-rest curves averaged on a common false-positive grid (AUC = mean of the per-class
    AUCs, as sklearn's macro ROC-AUC)."""
    from sklearn import metrics

    classes = truth.classes
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 1:
        proba = np.column_stack([1 - proba, proba])
    if proba.ndim != 2 or proba.shape[1] != len(classes) or proba.shape[0] != len(truth.y_true):
        return None
    y = np.asarray(truth.y_true).tolist()
    if len(classes) == 2:
        positive = [t == classes[1] for t in y]
        if all(positive) or not any(positive):
            return None
        fpr, tpr, _ = metrics.roc_curve(positive, proba[:, 1])
        return {"fpr": fpr, "tpr": tpr, "auc": float(metrics.auc(fpr, tpr)), "macro": False}
    grid = np.linspace(0.0, 1.0, 201)
    tprs, aucs = [], []
    for i, c in enumerate(classes):
        positive = [t == c for t in y]
        if all(positive) or not any(positive):
            continue  # a class absent from the test rows has no curve
        fpr, tpr, _ = metrics.roc_curve(positive, proba[:, i])
        tprs.append(np.interp(grid, fpr, tpr))
        aucs.append(metrics.auc(fpr, tpr))
    if not tprs:
        return None
    tpr = np.mean(tprs, axis=0)
    tpr[0] = 0.0
    return {"fpr": grid, "tpr": tpr, "auc": float(np.mean(aucs)), "macro": True}
