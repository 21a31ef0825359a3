"""What runs inside a candidate's own process: cross-validate, refit, score the test rows once,
measure the costs, save the model.

The parent (:mod:`nnvsml.protocol.runner`) starts this in a fresh process so that a crash, a
hang or an out-of-memory in one candidate cannot take the run down with it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn  # noqa: F401  (imported here so the forkserver preloads it once)

from nnvsml import metrics, uncertainty
from nnvsml.data.dataset import take
from nnvsml.models import BuildContext, Candidate
from nnvsml.protocol.splits import HOLDOUT_BLOCKS
from nnvsml.tuning.pruning import final_step
from nnvsml.tuning.tuner import TuningPlan, tune

#: Share of a time-aware candidate's remaining time handed to its fits; the rest covers
#: prediction, scoring and saving, so the candidate finishes instead of being killed.
TRAINING_SHARE = 0.85
#: Training rows each fit is scored on for its train-vs-validation gap: enough for the mean,
#: and cheap for models whose prediction cost grows with the training set (kNN, SVMs).
TRAIN_SCORE_ROWS = 2000


@dataclass(frozen=True)
class Job:
    """One candidate's work order. The Candidate travels pickled by reference (its ``build`` is
    a module-level function), so candidates defined outside nnvsml run isolated too."""

    candidate: Candidate
    run_dir: str
    data_path: str
    time_limit: float
    seed: int
    tuning: TuningPlan = TuningPlan()


def main(job: Job, conn) -> None:
    """Entry point of the child process: report ``("result", dict)`` or ``("error", str)``."""
    start = time.monotonic()
    run_logged(Path(job.run_dir) / "logs" / f"{job.candidate.name}.log", conn,
               lambda: evaluate(job, conn, start))


def run_logged(log_path: Path, conn, work) -> None:
    """Run ``work()`` in this child process with its output in ``log_path``; send its result,
    or its error (and exit non-zero) for the parent to record."""
    _die_with_parent()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        try:
            conn.send(("result", work()))
        except BaseException as exc:  # everything: the parent records it and the run goes on
            traceback.print_exc()
            conn.send(("error", f"{type(exc).__name__}: {exc}".strip()))
            conn.close()
            os._exit(1)
    conn.close()


def evaluate(job: Job, conn, start: float) -> dict:
    data = joblib.load(job.data_path)
    X: pd.DataFrame | np.ndarray = data["X"]
    y: np.ndarray = np.asarray(data["y"])
    task, classes, kinds = data["task"], data["classes"], data["kinds"]
    train_idx, test_idx, folds = data["train_idx"], data["test_idx"], data["folds"]
    holdout = data.get("validation") == "holdout"
    cand, plan = job.candidate, job.tuning
    # The parent's clock started before this process did, and the last steps (scoring, the
    # bootstrap, saving) come after the last fit: plan to end a little before the limit.
    deadline = start + 0.95 * job.time_limit - 0.5
    # Under --trials the run is bounded by counts, not seconds: no fit is cut short by a clock,
    # so the same seed gives the same models.
    timed = plan.trials is None
    # Under holdout the model fitted on the non-validation rows is the final one: no refit.
    n_fits = len(folds) + (0 if holdout else 1)

    def context(params: dict, max_time: float | None) -> BuildContext:
        return BuildContext(task=task, kinds=kinds, n_train=len(train_idx), seed=job.seed,
                            max_time=max_time if (timed and cand.time_aware) else None,
                            modality=data.get("modality", "tabular"),
                            info=data.get("info") or {}, params=params)

    tuning = tune(
        cand, plan, X=X, y=y, split=data["tuning_split"], task=task, classes=classes,
        metric=data["metric"], seed=job.seed, make_ctx=context,
        deadline=start + plan.share * job.time_limit if timed else None,
        # A trial trains as long as each of the final fits will, so it is judged as it will run.
        trial_max_time=TRAINING_SHARE * (1 - plan.share) * job.time_limit / n_fits,
        time_limit=job.time_limit,
        eval_seconds=lambda fit_s: (
            fit_s * n_fits * len(train_idx) / max(1, len(data["tuning_split"][0])),
            deadline - time.monotonic()),
        progress=lambda message: conn.send(("progress", message)),
    )
    params = tuning["best_params"]

    # Seconds a fit has run past the training time it was given (preprocessing, setup, the last
    # epoch): learned from each fit and taken off the next one, so the candidate ends in time.
    overshoot = 0.0

    def build(fits_left: int):
        max_time = None
        if cand.time_aware and timed:
            share = TRAINING_SHARE * (deadline - time.monotonic()) / fits_left
            max_time = max(0.5, share - overshoot)
        ctx = context(params, max_time)
        return cand.build(ctx), ctx

    def timed_fit(est, ctx, X_fit, y_fit) -> float:
        nonlocal overshoot
        t0 = time.perf_counter()
        est.fit(X_fit, y_fit)
        seconds = time.perf_counter() - t0
        if ctx.max_time is not None:
            overshoot = max(overshoot, seconds - ctx.max_time)
        return seconds

    fold_scores: list[dict] = []
    train_scores: list[dict] = []  # the same fits scored on their own rows: the overfitting gap
    rng = np.random.default_rng(job.seed)
    cv_start = time.monotonic()
    for i, (tr, va) in enumerate(folds):
        conn.send(("progress", "fit on the non-validation rows" if holdout
                   else f"fold {i + 1}/{len(folds)}"))
        est, ctx = build(n_fits - i)
        cpu0 = _cpu_seconds()
        fit_seconds = timed_fit(est, ctx, take(X, tr), y[tr])
        cpu_seconds = _cpu_seconds() - cpu0
        seen = np.sort(rng.choice(tr, min(len(tr), TRAIN_SCORE_ROWS), replace=False))
        train_scores.append(_score(est, task, take(X, seen), y[seen], classes))
        if holdout:
            # Blocks of the validation part, so the verdict can pair models block by block.
            for block in np.array_split(va, HOLDOUT_BLOCKS):
                fold_scores.append(_score(est, task, take(X, block), y[block], classes))
        else:
            fold_scores.append(_score(est, task, take(X, va), y[va], classes))
    cv_seconds = time.monotonic() - cv_start

    if not holdout:
        conn.send(("progress", "refit on all training rows"))
        est, ctx = build(1)
        cpu0 = _cpu_seconds()
        fit_seconds = timed_fit(est, ctx, take(X, train_idx), y[train_idx])
        cpu_seconds = _cpu_seconds() - cpu0

    conn.send(("progress", "scoring the test rows"))
    X_test, y_test = take(X, test_idx), y[test_idx]
    y_pred, proba, predict_seconds, predict_cpu = _predict_timed(est, X_test, task)
    latency_ms = _latency_ms(est, take(X_test, np.arange(1)))
    test = metrics.score(task, y_test, y_pred, proba, classes)
    conn.send(("progress", "bootstrap intervals of the test metrics"))
    test_ci = uncertainty.bootstrap_ci(task, y_test, y_pred, proba, classes, seed=job.seed)

    run_dir = Path(job.run_dir)
    model_path = run_dir / "models" / f"{cand.name}.joblib"
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # zlib level 3: the size compared between families is that of a compressed artifact.
    joblib.dump(est, model_path, compress=3)
    pred_path = run_dir / "predictions" / f"{cand.name}.npz"
    pred_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(pred_path, y_pred=np.asarray(y_pred),
                        proba=np.asarray(proba) if proba is not None else np.empty(0))

    final = final_step(est)
    return {
        "test": test,
        "test_ci": test_ci,
        "cv": _aggregate(fold_scores),
        "cv_train": _aggregate(train_scores),
        "cost": {
            "fit_seconds": round(fit_seconds, 4),
            "cpu_seconds": round(cpu_seconds, 4),
            "predict_ms_per_1k": round(1000.0 * predict_seconds / max(1, len(test_idx)) * 1000.0, 4),
            "predict_cpu_ms_per_1k": round(1e6 * predict_cpu / max(1, len(test_idx)), 4),
            "latency_ms": round(latency_ms, 4),
            "peak_memory_mb": round(_peak_rss_mb(), 1),
            "model_size_kb": round(model_path.stat().st_size / 1024.0, 1),
            "cv_seconds": round(cv_seconds, 4),
        },
        "params": {
            **_simple_params(final),
            "preprocessing": cand.preprocessing,
            **(cand.notes(ctx) if cand.notes else {}),
        },
        "training": _training_info(final),
        "tuning": tuning,
        "artifacts": {
            "model": str(model_path.relative_to(run_dir)),
            "predictions": str(pred_path.relative_to(run_dir)),
        },
    }


def _score(est, task, X, y, classes) -> dict:
    pred = est.predict(X)
    proba = est.predict_proba(X) if task != "regression" and hasattr(est, "predict_proba") else None
    return metrics.score(task, y, pred, proba, classes)


def _predict_timed(est, X, task):
    """Predictions for the test rows, the best of a few timed passes over them, and the CPU
    seconds of that pass (the energy estimate counts every core the model kept busy)."""
    times, proba = [], None
    for _ in range(3):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        y_pred = est.predict(X)
        times.append((time.perf_counter() - t0, _cpu_seconds() - c0))
        if sum(t for t, _ in times) > 2.0:  # a stable figure; slow models are timed once or twice
            break
    if task != "regression" and hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
    wall, cpu = min(times)
    return y_pred, proba, wall, cpu


def _latency_ms(est, row, repeats: int = 10, within: float = 0.3) -> float:
    """Median milliseconds to predict one row, as a service answering one request would."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() - start < within):
        t0 = time.perf_counter()
        est.predict(row)
        times.append(1000.0 * (time.perf_counter() - t0))
    return float(np.median(times))


def _aggregate(fold_scores: list[dict]) -> dict:
    out = {}
    for name in fold_scores[0]:
        values = [s[name] for s in fold_scores]
        if any(v is None for v in values):
            out[name] = {"mean": None, "std": None, "folds": values}
        else:
            std = float(np.std(values, ddof=1)) if len(values) > 1 else None
            out[name] = {"mean": float(np.mean(values)), "std": std,
                         "folds": [float(v) for v in values]}
    return out


def _simple_params(est) -> dict:
    """The estimator's hyperparameters that JSON can hold (nested estimators by class name)."""
    out = {"estimator": type(est).__name__}
    for key, value in est.get_params(deep=False).items():
        if value is None or isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, str)) for v in value):
            out[key] = list(value)
        elif isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if isinstance(v, (bool, int, float, str))}
        else:
            out[key] = type(value).__name__
    return out


def _training_info(est) -> dict | None:
    """Training facts of a network (epochs, why it stopped, device); None for other models."""
    keys = ("n_epochs_", "best_epoch_", "stopped_by_", "device_", "n_parameters_")
    info = {k.rstrip("_"): getattr(est, k) for k in keys if hasattr(est, k)}
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in info.items()} or None


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies, so a killed run leaves no orphans."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the parent's own cleanup still applies
