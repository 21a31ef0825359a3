"""What runs inside a candidate's own process, in the stages of the anytime protocol
(:mod:`nnvsml.protocol.schedule` orders them):

``secure``
    The declared defaults, fitted once on the first fold's training rows and scored on the shared
    validation rows, then on the test rows. A model that cannot stop itself fits a stated
    stratified sample first and grows it while its measured fit times say the next size fits;
    networks and time-bounded ensembles train for the time they are given and keep their best
    epoch / the members they finished. Every candidate thus has a scored result early.
``again``
    The same, with more time: a longer fit, or a larger sample, when the folds do not fit.
``improve``
    Tuning, the k folds and the refit on all training rows (or, under holdout validation, the
    tuned fit), with what the family has left.

The parent (:mod:`nnvsml.protocol.runner`) starts this in a fresh process so that a crash, a
hang or an out-of-memory in one candidate cannot take the run down with it. The process
announces when it expects its current fit to end (``("eta", seconds)``), from what it has timed.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import psutil
import sklearn  # noqa: F401  (imported here so the forkserver preloads it once)
from sklearn.pipeline import Pipeline

from nnvsml import artifacts, metrics, timing, uncertainty
from nnvsml.data.dataset import take
from nnvsml.deploy import safe
from nnvsml.models import BuildContext, Candidate
from nnvsml.models import space as sp
from nnvsml.models.semi_supervised import UNLABELLED
from nnvsml.models.steps import final_step
from nnvsml.protocol.splits import HOLDOUT_BLOCKS
from nnvsml.tasks import get_task
from nnvsml.tuning.tuner import TuningPlan, tune, untuned
from nnvsml.unsupervised.outputs import outputs as unsupervised_outputs
from nnvsml.unsupervised.scores import Outputs, has_truth

#: Training rows each fit is scored on for its train-vs-validation gap: enough for the mean,
#: and cheap for models whose prediction cost grows with the training set (kNN, SVMs).
TRAIN_SCORE_ROWS = 2000
#: The smallest stratified sample a model that cannot stop itself is first fitted on, when the
#: training part is larger (progressive sampling, as FLAML grows its samples).
SMALLEST_SAMPLE = 500
#: Rows a validation block holds at least (fewer blocks on small data): a block's score must
#: mean something for the verdict's paired test.
MIN_BLOCK_ROWS = 20


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
    stage: str = "secure"
    #: The most seconds the parent lets this process run when it needs longer than its limit.
    hard_limit: float | None = None
    #: ``again``: the sample the previous fit used; the next one starts above it.
    start_rows: int | None = None
    #: ``again``: the first fit's model file digest (a network trains on from it when the file
    #: is the one this run wrote) and its training seconds.
    prior_sha256: str | None = None
    prior_fit_seconds: float = 0.0
    #: ``improve``: whether its time holds tuning trials beside its folds.
    tune: bool = True


def main(job: Job, conn) -> None:
    """Entry point of the child process: report ``("result", dict)`` or ``("error", str)``."""
    start = time.monotonic()
    base_mb = _rss_mb()
    stage = {"secure": secure, "again": secure, "improve": improve, "stream": stream,
             "tune": tune_trials}[job.stage]

    def work():
        print(f"stage {job.stage}: {job.time_limit:.1f} s", flush=True)  # the log says which
        return stage(_Work(job, conn, start, base_mb))

    name = job.candidate.name + (f"-helper-{job.seed}" if job.stage == "tune" else "")
    run_logged(Path(job.run_dir) / "logs" / f"{name}.log", conn, work)


def run_logged(log_path: Path, conn, work) -> None:
    """Run ``work()`` in this child process with its output in ``log_path``; send its result,
    or its error (and exit non-zero) for the parent to record."""
    _die_with_parent()
    os.umask(0o077)  # every file of a run is private: datasets can hold personal data
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


#: ``finish``'s sign that no stability refit was made before it (None: none could be made).
NOT_YET = object()


class _Work:
    """One candidate's data, clock and shared steps inside its process."""

    def __init__(self, job: Job, conn, start: float, base_mb: float) -> None:
        self.job, self.conn, self.cand, self.base_mb = job, conn, job.candidate, base_mb
        data = joblib.load(job.data_path)
        self.data = data
        self.X = data["X"]
        self.y = np.asarray(data["y"])
        self.task, self.classes, self.kinds = data["task"], data["classes"], data["kinds"]
        self.spec = get_task(self.task)
        #: Unsupervised: every row in the common space its metrics are computed in.
        self.space = data.get("space")
        #: An unsupervised model is refitted once on a bootstrap resample of its rows (the
        #: stability of what it finds): that fit's time is planned with the others.
        self.extra_fits = 0 if self.spec.supervised else 1
        self.train_idx, self.test_idx = data["train_idx"], data["test_idx"]
        self.folds = data["folds"]
        #: ``--unlabeled use``: the rows without a target, for the candidates that learn from
        #: them (appended to every fit's rows, never scored).
        self.unlabelled = data.get("X_unlabelled") if self.cand.unlabelled else None
        #: A table read in batches (nnvsml.data.large): where every training row is.
        self.stream = data.get("stream")
        self.holdout = data.get("validation") == "holdout"
        # Under --trials the run is bounded by counts, not seconds: no fit is cut short by a
        # clock, so the same seed gives the same models.
        self.timed = job.tuning.trials is None
        self.budget = timing.TimeBudget(job.time_limit if self.timed else None, start=start)
        self.hard = timing.TimeBudget(job.hard_limit if self.timed and job.hard_limit else
                                      (job.time_limit if self.timed else None), start=start)
        # Seconds a fit has run past the training time it was given (preprocessing, setup, the
        # last epoch): learned from each fit and taken off the next one.
        self.overshoot = 0.0
        self.per_row = 0.0  # seconds to predict one row, once measured

    def progress(self, message: str) -> None:
        self.conn.send(("progress", message))

    def eta(self, seconds: float) -> None:
        self.conn.send(("eta", float(seconds)))

    def context(self, params: dict, max_time: float | None, n_train: int | None = None
                ) -> BuildContext:
        return BuildContext(task=self.task, kinds=self.kinds,
                            n_train=len(self.train_idx) if n_train is None else n_train,
                            seed=self.job.seed,
                            max_time=max_time if (self.timed and self.cand.time_aware) else None,
                            modality=self.data.get("modality", "tabular"),
                            info=self.data.get("info") or {}, params=params)

    def fit(self, est, ctx: BuildContext, rows) -> tuple[float, float]:
        """Fit on ``rows``; (wall, CPU) seconds."""
        t0, c0 = time.perf_counter(), _cpu_seconds()
        if self.spec.supervised:
            est.fit(*self.fit_rows(rows))
        else:
            est.fit(take(self.X, rows))  # the evaluation column is never shown to a model
        seconds = time.perf_counter() - t0
        if ctx.max_time is not None:
            self.overshoot = max(self.overshoot, timing.overrun(seconds, ctx.max_time))
        return seconds, _cpu_seconds() - c0

    def fit_rows(self, rows) -> tuple:
        """``rows`` and their targets, followed by the unlabelled rows (``UNLABELLED``) for a
        candidate that learns from them."""
        X, y = take(self.X, rows), self.y[rows]
        if self.unlabelled is None:
            return X, y
        n = len(self.unlabelled)
        y = np.concatenate([np.asarray(y, dtype=object), np.full(n, UNLABELLED, dtype=object)])
        if isinstance(X, np.ndarray):
            return np.concatenate([X, np.asarray(self.unlabelled)]), y
        return pd.concat([X, self.unlabelled], ignore_index=True), y

    def score(self, est, rows) -> dict:
        pred, second = _outputs(est, self.task, take(self.X, rows))
        return metrics.score(self.task, self.y[rows], pred, self.beside(second, rows),
                             self.classes)

    def beside(self, second, rows, refit=None):
        """What the task's metrics read beside the predictions of ``rows``: probabilities, or
        for an unsupervised task the rows in the common space with the anomaly scores (and
        a refit's predictions for its stability)."""
        if self.space is None:
            return second
        return Outputs(self.space[rows], second, refit)

    def stability_refit(self, ctx: BuildContext, rows, fit_seconds: float, *targets):
        """An unsupervised model's predictions for each of ``targets`` (row sets: the test
        rows, a validation part) after a refit on a bootstrap resample of the rows it was
        fitted on: one list, or None (no time left for it, said in the log)."""
        if self.spec.supervised or rows is None:
            return None
        if self.timed and not timing.fits_in(fit_seconds, self.budget,
                                             overhead=timing.EVAL_OVERHEAD):
            print("no time left for the stability refit", flush=True)
            return None
        self.progress("stability: a refit on a bootstrap resample")
        rng = np.random.default_rng(self.job.seed + 1)
        resample = np.sort(rng.choice(rows, len(rows), replace=True))
        twin = self.cand.build(ctx)
        twin.fit(take(self.X, resample))
        return [self.judged_by(twin, target) for target in targets]

    def judged_by(self, est, rows) -> np.ndarray:
        """What an unsupervised model's stability compares on ``rows``: its anomaly scores, or
        its cluster ids."""
        pred, scores = _outputs(est, self.task, take(self.X, rows))
        return scores if scores is not None else pred

    def train_score(self, est, rows, rng) -> dict:
        seen = np.sort(rng.choice(rows, min(len(rows), TRAIN_SCORE_ROWS), replace=False))
        return self.score(est, seen)

    def blocks(self, est, va, refit=None) -> list[dict]:
        """Scores on blocks of a validation part, so the verdict can pair models block by block
        (one prediction pass over the part). ``refit``: an unsupervised model's twin's
        predictions for ``va`` (its stability)."""
        t0 = time.perf_counter()
        pred, proba = _outputs(est, self.task, take(self.X, va))
        self.per_row = (time.perf_counter() - t0) / max(1, len(va))
        return self.blocks_of(pred, proba, va, refit)

    def blocks_of(self, pred, proba, va, refit=None) -> list[dict]:
        """:meth:`blocks` from predictions already made."""
        n_blocks = max(2, min(HOLDOUT_BLOCKS, len(va) // MIN_BLOCK_ROWS))
        cut = (lambda a, part: None if a is None else np.asarray(a)[part])
        return [metrics.score(self.task, self.y[va[part]], pred[part],
                              self.beside(cut(proba, part), va[part], cut(refit, part)),
                              self.classes)
                for part in self.block_rows(va, n_blocks)]

    def judged_blocks(self, est, ctx: BuildContext, rows, va, fit_seconds: float):
        """Validation blocks of a model fitted once on ``rows``, and (unsupervised) its twin's
        predictions for the test rows: a refit on a bootstrap resample of ``rows``, made now so
        that the validation part is judged on stability too, as the test rows are."""
        twin = self.stability_refit(ctx, rows, fit_seconds, va, self.test_idx)
        return (self.blocks(est, va, None if twin is None else twin[0]),
                None if twin is None else twin[1])

    def block_rows(self, va, n_blocks: int) -> list[np.ndarray]:
        """Positions in ``va`` of each validation block. Against an evaluation column, every
        block holds each of its classes (dealt in turn), and there are no more blocks than the
        rarest class has rows: a block without an anomaly has no average precision, and a
        model with an undefined block would have no validation score at all."""
        if self.spec.supervised or not has_truth(self.y[va]):
            return np.array_split(np.arange(len(va)), n_blocks)
        labels = self.y[va].astype(str)
        rarest = int(np.unique(labels, return_counts=True)[1].min())
        n_blocks = max(2, min(n_blocks, rarest))
        order = np.argsort(labels, kind="stable")
        return [np.sort(order[i::n_blocks]) for i in range(n_blocks)]

    def finish(self, est, ctx: BuildContext, *, fit_seconds: float, cpu_seconds: float,
               cv: list[dict], cv_train: list[dict], blocks: list[dict], tuning: dict,
               evaluation: dict, cv_seconds: float, rows=None, refit=NOT_YET) -> dict:
        """Score the test rows once, measure the costs, save the model: the result. ``rows``:
        the rows it was fitted on (an unsupervised model is refitted on a resample of them,
        unless ``refit`` brings that twin's predictions for the test rows already)."""
        self.progress("scoring the test rows")
        # Measured progress: up to five passes over the test rows (the last, the safe copy's
        # parity), single rows, the bootstrap.
        self.eta(timing.EVAL_OVERHEAD + self.per_row * (5 * len(self.test_idx) + 50))
        X_test, y_test = take(self.X, self.test_idx), self.y[self.test_idx]
        y_pred, proba, predict_seconds, predict_cpu = _predict_timed(est, X_test, self.task)
        latency_ms = _latency_ms(est, take(X_test, np.arange(1)))
        if refit is NOT_YET:
            twin = self.stability_refit(ctx, rows, fit_seconds, self.test_idx)
            refit = None if twin is None else twin[0]
        judged = self.beside(proba, self.test_idx, refit)
        test = metrics.score(self.task, y_test, y_pred, judged, self.classes)
        self.progress("bootstrap intervals of the test metrics")
        test_ci = uncertainty.bootstrap_ci(self.task, y_test, y_pred, judged, self.classes,
                                           seed=self.job.seed)
        cand, run_dir = self.cand, Path(self.job.run_dir)
        # Each file is named by its digest once written (see artifacts.file_name).
        with _writing(run_dir, "model", cand.name) as model_file:
            # zlib level 3: the size compared between families is that of a compressed artifact.
            joblib.dump(est, model_file.path, compress=3)
        size_kb = (run_dir / model_file.written).stat().st_size / 1024.0
        safe_files, safe_record = safe.save_checked(
            est, run_dir / "models" / Path(model_file.written).stem,
            lambda model, X: _outputs(model, self.task, X), X_test, y_pred, proba)
        with _writing(run_dir, "predictions", cand.name) as pred_file:
            artifacts.save_arrays(pred_file.path, y_pred=y_pred,
                                  proba=proba if proba is not None else np.empty(0),
                                  **({"refit": refit} if refit is not None else {}))
        if self.stream is not None:
            evaluation = _sampled(evaluation, self.stream["sampling"])
        final = final_step(est)
        n_test = max(1, len(self.test_idx))
        return {
            "test": test,
            "test_ci": test_ci,
            "cv": _aggregate(cv),
            "cv_train": _aggregate(cv_train),
            "validation_blocks": {k: v["folds"] for k, v in _aggregate(blocks).items()},
            "evaluation": evaluation,
            "cost": {
                "fit_seconds": round(fit_seconds, 4),
                "cpu_seconds": round(cpu_seconds, 4),
                "predict_ms_per_1k": round(1e6 * predict_seconds / n_test, 4),
                "predict_cpu_ms_per_1k": round(1e6 * predict_cpu / n_test, 4),
                "latency_ms": round(latency_ms, 4),
                # The model's own memory: what the process grew by, not the preloaded libraries.
                "peak_memory_mb": round(max(0.0, _peak_rss_mb() - self.base_mb), 1),
                "model_size_kb": round(size_kb, 1),
                "cv_seconds": round(cv_seconds, 4),
                "host": platform.node(),  # where it ran: this machine, or a cluster's node
            },
            "params": {
                **_simple_params(final),
                "preprocessing": cand.preprocessing,
                **(cand.notes(ctx) if cand.notes else {}),
            },
            "training": _training_info(final),
            "tuning": tuning,
            "unlabelled_rows": None if self.unlabelled is None else len(self.unlabelled),
            "artifacts": {
                "model": model_file.written,
                "predictions": pred_file.written,
                "model_sha256": model_file.sha256,
                "predictions_sha256": pred_file.sha256,
                # Files that load without unpickling (nnvsml.deploy.safe), when they could be
                # written and predicted what the model does.
                **{f"safe_{role}": str(path.relative_to(run_dir))
                   for role, path in safe_files.items()},
                **{f"safe_{role}_sha256": artifacts.digest(path)
                   for role, path in safe_files.items()},
            },
            "formats": {"safe": safe_record, "onnx": ONNX_LATER},
        }


#: Every model has a safe copy; ONNX conversion costs seconds per model, so it is made where it
#: is used: for each family's best, by the deployability analysis.
ONNX_LATER = {"status": "not_written", "reason": "ONNX copies are made and checked for each "
              "family's best model by the deployability analysis (--analyses deployability); "
              "nnvsml export --format onnx hands them over", "parity": None}


def secure(w: _Work) -> dict:
    """The declared defaults fitted once on the first fold's training rows (growing a stratified
    sample for models that cannot stop themselves), scored on its validation rows."""
    cand, job = w.cand, w.job
    params = sp.defaults(cand.space)
    tr, va = w.folds[0]
    rng = np.random.default_rng(job.seed)
    t_start = time.monotonic()
    continued = _trains_on(w) if job.stage == "again" else None
    if cand.time_aware or not w.timed:
        plan = w.budget.less(timing.EVAL_OVERHEAD)
        max_time = timing.per_fit(plan, 1 + w.extra_fits) if w.timed else None
        if max_time is not None:
            w.eta(max_time + timing.EVAL_OVERHEAD)
        ctx = w.context(params, max_time, n_train=len(tr))
        if continued is not None:
            # A network trains on from its first fit's weights: that time is not thrown away.
            w.progress("training on from the first fit")
            est = continued
            t0, c0 = time.perf_counter(), _cpu_seconds()
            head = est[:-1] if isinstance(est, Pipeline) and len(est.steps) > 1 else None
            X_tr = take(w.X, tr)
            # The evaluation column is never shown to an unsupervised model.
            final_step(est).continue_fit(head.transform(X_tr) if head is not None else X_tr,
                                         w.y[tr] if w.spec.supervised else None,
                                         max_time=max_time)
            fit_seconds = job.prior_fit_seconds + time.perf_counter() - t0
            cpu_seconds = _cpu_seconds() - c0
        else:
            w.progress("first fit (declared defaults)")
            est = cand.build(ctx)
            fit_seconds, cpu_seconds = w.fit(est, ctx, tr)
        rows = tr
    else:
        def keep(fitted) -> None:
            # A larger sample comes next: this fit's result is sent first, so that a larger fit
            # cut by time leaves it standing.
            w.conn.send(("result", _first_result(w, fitted, tr, va, rng, params, t_start)))

        fitted = _grow(w, params, tr, va, rng, keep)
        return _first_result(w, fitted, tr, va, rng, params, t_start)
    return _first_result(w, (est, ctx, rows, fit_seconds, cpu_seconds), tr, va, rng, params,
                         t_start)


def _first_result(w: _Work, fitted, tr, va, rng, params: dict, t_start: float) -> dict:
    est, ctx, rows, fit_seconds, cpu_seconds = fitted
    sampled = len(rows) < len(tr)
    blocks, refit = w.judged_blocks(est, ctx, rows, va, fit_seconds)
    level = "holdout" if w.holdout else "validation_only"
    note = (f"fitted on a stratified sample of {len(rows):,} of the {len(tr):,} rows: a fit on "
            "more did not fit its time" if sampled else None)
    return w.finish(
        est, ctx, fit_seconds=fit_seconds, cpu_seconds=cpu_seconds, cv=blocks,
        cv_train=[w.train_score(est, rows, rng)], blocks=blocks,
        tuning={**untuned("the first, anytime fit uses the declared defaults", params)},
        evaluation={"level": level, "stage": w.job.stage, "folds": 0 if w.holdout else 1,
                    "tuned": False, "trained_rows": int(len(rows)), "sampled": sampled,
                    "note": note},
        cv_seconds=time.monotonic() - t_start, rows=rows, refit=refit)


def _grow(w: _Work, params: dict, tr, va, rng, keep):
    """Progressive sampling: fit the smallest stated sample, then the largest next size whose
    time, extrapolated from the measured fits, still fits; keep the last fit that finished."""
    order = _nested_order(tr, w.y, w.spec.stratified, rng)
    n = len(order)
    first = min(n, max(SMALLEST_SAMPLE, w.job.start_rows or 0))
    if w.job.start_rows:
        first = min(n, int(w.job.start_rows * timing.SAMPLE_GROWTH))
    sizes = _ladder(first, n)
    points: list[tuple[int, float]] = []
    kept = None
    scoring = timing.EVAL_OVERHEAD
    for i, size in enumerate(sizes):
        if kept is not None:
            exponent = timing.growth_exponent(points, w.cand.growth)
            # The largest size whose extrapolated fit still ends in time, not just the next one.
            fitting = [s for s in sizes[i:] if timing.fits_in(
                timing.scaled(points[-1][1], points[-1][0], s, exponent), w.budget,
                overhead=scoring)]
            if not fitting:
                break
            size = fitting[-1]
            if size <= kept[2].size:
                break
            keep(kept)
            w.eta(timing.scaled(points[-1][1], points[-1][0], size, exponent) + scoring)
        else:
            # Nothing measured yet: a stated multiple of its time, within what the parent allows.
            w.eta(min(w.hard.remaining(), timing.unmeasured_fit(w.budget)))
        w.progress(f"first fit on {size:,} of {n:,} rows")
        ctx = w.context(params, None, n_train=size)
        est = w.cand.build(ctx)
        rows = np.sort(order[:size])
        fit_seconds, cpu_seconds = w.fit(est, ctx, rows)
        points.append((size, fit_seconds))
        kept = (est, ctx, rows, fit_seconds, cpu_seconds)
        t0 = time.perf_counter()
        w.score(est, va[: min(len(va), 1000)])
        per_row = (time.perf_counter() - t0) / max(1, min(len(va), 1000))
        scoring = timing.EVAL_OVERHEAD + per_row * (len(va) + len(w.test_idx) + TRAIN_SCORE_ROWS)
        if size == n:
            break
    return kept


def _trains_on(w: _Work):
    """The first fit's network, when it can train on (see :func:`_prior_model`); None: the
    longer fit then starts afresh."""
    return _prior_model(w, "continue_fit") if w.cand.time_aware else None


def _prior_model(w: _Work, able: str):
    """The first fit's model, when its final step can ``able``: the model file this run wrote
    for the candidate (its path is made here, never read from the results) whose digest is the
    one its first fit reported (signed by this user when it came from an earlier process: the
    main process checks that before it passes the digest on). None otherwise."""
    if not w.job.prior_sha256:
        return None
    path = Path(w.job.run_dir) / artifacts.file_name("model", w.cand.name, w.job.prior_sha256)
    if not path.is_file():
        return None
    if artifacts.digest(path) != w.job.prior_sha256:
        print(f"{path.name} is not the file the first fit wrote: training afresh", flush=True)
        return None
    est = joblib.load(path)
    return est if hasattr(final_step(est), able) else None


def _ladder(first: int, n: int) -> list[int]:
    sizes = [first]
    while sizes[-1] < n:
        sizes.append(min(n, int(sizes[-1] * timing.SAMPLE_GROWTH)))
    return sizes


def _nested_order(rows: np.ndarray, y: np.ndarray, stratify: bool, rng) -> np.ndarray:
    """``rows`` in an order whose every prefix is a random sample holding each class in its
    share (stratified), so the samples of progressive sampling are nested."""
    perm = rng.permutation(rows)
    if not stratify:
        return perm
    labels = y[perm]
    rank = np.empty(len(perm))
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rank[idx] = (np.arange(len(idx)) + rng.random()) / len(idx)
    return perm[np.argsort(rank, kind="stable")]


def _n_fits(w: _Work) -> int:
    """The fits an improve stage makes after tuning: folds, the refit, the stream, extras."""
    streams = w.stream is not None and w.cand.streams
    return len(w.folds) + (0 if w.holdout else 1) + int(streams) + w.extra_fits


def _tune(w: _Work, tuned_on: str) -> dict:
    """The candidate's study, tuned for ``timing.TUNING_SHARE`` of the stage's time: by the
    improve stage itself, and by helper processes (stage ``tune``) beside it on a cluster's
    spare CPUs, each with a seed of its own, into the same study."""
    n_fits = _n_fits(w)
    after_tuning = timing.after_tuning(w.job.time_limit, True) if w.timed else None
    return tune(
        w.cand, w.job.tuning, X=w.X, y=w.y, split=w.data["tuning_split"], task=w.task,
        classes=w.classes, metric=tuned_on, seed=w.job.seed, make_ctx=w.context,
        space=w.space, budget=w.budget.share(timing.TUNING_SHARE) if w.timed else None,
        # A trial trains as long as each of the final fits will, so it is judged as it will
        # run.
        trial_max_time=(timing.per_fit(timing.TimeBudget(after_tuning), n_fits)
                        if after_tuning is not None else None),
        eval_seconds=lambda fit_s: (
            n_fits * timing.scaled(fit_s, len(w.data["tuning_split"][0]),
                                   len(w.train_idx), w.cand.growth),
            w.budget),
        progress=w.progress,
    )


def tune_trials(w: _Work) -> dict:
    """A helper's stage: trials of the candidate's study and nothing else (no model is kept:
    the candidate's own improve stage reads the study and chooses)."""
    tuned_on = w.spec.tuned_on(w.data["metric"])
    if tuned_on is None:
        return {"helper": {"completed": 0}}
    record = _tune(w, tuned_on)
    return {"helper": {"completed": record.get("completed", 0), "study": record.get("study")}}


def improve(w: _Work) -> dict:
    """Tuning, then the k folds and the refit on all training rows (holdout: the tuned fit)."""
    cand, job = w.cand, w.job
    streams = w.stream is not None and cand.streams
    n_fits = _n_fits(w)
    tuned_on = w.spec.tuned_on(w.data["metric"])  # None: the task has nothing to tune on
    if tuned_on is None:
        tuning = untuned(w.spec.tuning_note, sp.defaults(cand.space))
    elif not job.tune:
        tuning = untuned(f"its {job.time_limit:.0f} s hold fewer than {timing.MIN_TRIALS} trials "
                         "beside its folds, as its first fit measured them (raise --budget)",
                         sp.defaults(cand.space))
    else:
        tuning = _tune(w, tuned_on)
    params = tuning["best_params"]

    def build(fits_left: int, n_train: int):
        max_time = (timing.per_fit(w.budget, fits_left, w.overshoot)
                    if cand.time_aware and w.timed else None)
        if max_time is not None:
            w.eta(max_time + timing.EVAL_OVERHEAD)
        ctx = w.context(params, max_time, n_train=n_train)
        return cand.build(ctx), ctx

    fold_scores: list[dict] = []
    train_scores: list[dict] = []  # the same fits scored on their own rows: the overfitting gap
    blocks: list[dict] = []
    refit = NOT_YET
    pairs = _FoldPairs(w)
    rng = np.random.default_rng(job.seed)
    cv_start = time.monotonic()
    for i, (tr, va) in enumerate(w.folds):
        w.progress("fit on the non-validation rows" if w.holdout
                   else f"fold {i + 1}/{len(w.folds)}")
        est, ctx = build(n_fits - i, len(tr))
        fit_seconds, cpu_seconds = w.fit(est, ctx, tr)
        train_scores.append(w.train_score(est, tr, rng))
        if w.holdout:
            blocks, refit = w.judged_blocks(est, ctx, tr, va, fit_seconds)
            fold_scores.extend(blocks)
        else:
            pairs.fitted(i, est)
    if not w.holdout:
        fold_scores, blocks = pairs.scores()
    cv_seconds = time.monotonic() - cv_start

    fitted_rows = w.folds[0][0] if w.holdout else w.train_idx
    if not w.holdout:
        w.progress("refit on all training rows")
        est, ctx = build(1 + int(streams), len(w.train_idx))
        fit_seconds, cpu_seconds = w.fit(est, ctx, w.train_idx)
    trained_rows = int(len(fitted_rows))
    if streams:
        # Holdout: the validation rows stay out of the stream and score the streamed model.
        va = w.folds[0][1] if w.holdout else None
        fit_seconds, cpu_seconds, trained_rows = _stream_refit(w, est, fitted_rows, fit_seconds,
                                                               cpu_seconds, keep_out=va)
        if w.holdout:
            blocks = w.blocks(est, va)
            fold_scores = list(blocks)
    tuned = tuning.get("strategy", "none") != "none" and bool(tuning.get("completed"))
    return w.finish(
        est, ctx, fit_seconds=fit_seconds, cpu_seconds=cpu_seconds, cv=fold_scores,
        cv_train=train_scores, blocks=blocks, tuning=tuning,
        evaluation={"level": "holdout" if w.holdout else "cross_validated", "stage": "improve",
                    "folds": 0 if w.holdout else len(w.folds), "tuned": tuned,
                    "trained_rows": trained_rows, "sampled": False, "note": None,
                    **({"streamed": True} if streams else {})},
        cv_seconds=cv_seconds, rows=fitted_rows, refit=refit)


class _FoldPairs:
    """The k folds' validation scores, and the first fold's scores by blocks (the verdict
    pairs models block by block where their folds differ). A supervised fold is scored as soon
    as it is fitted. An unsupervised fold is scored once the next fold's model (the first
    fold's, for the last) has also predicted its validation rows: the stability of what a model
    finds is its agreement with a fit on another subsample of the rows (Ben-Hur, Elisseeff &
    Guyon, 2002), and two folds' training rows are two such subsamples, so it costs no extra
    fit. (The partner trained on those rows; the fold's own model did not.)"""

    def __init__(self, w: _Work) -> None:
        self.w = w
        self.paired = not w.spec.supervised and len(w.folds) > 1
        self.own: dict[int, tuple] = {}  # fold -> (labels or flags, scores) for its rows
        self.partner: dict[int, np.ndarray] = {}  # fold -> its partner's view of its rows
        self.done: list[dict] = []
        self.blocks: list[dict] = []

    def fitted(self, i: int, est) -> None:
        w, folds = self.w, self.w.folds
        va = folds[i][1]
        if not self.paired:
            if i == 0:
                self.blocks = w.blocks(est, va)
            self.done.append(w.score(est, va))
            return
        t0 = time.perf_counter()
        self.own[i] = _outputs(est, w.task, take(w.X, va))
        w.per_row = (time.perf_counter() - t0) / max(1, len(va))
        # This model is the partner of the fold before it; the first, of the last.
        j = len(folds) - 1 if i == 0 else i - 1
        self.partner[j] = w.judged_by(est, folds[j][1])

    def scores(self) -> tuple[list[dict], list[dict]]:
        """The folds' scores, and the first fold's by blocks."""
        if not self.paired:
            return self.done, self.blocks
        w, out = self.w, []
        for i, (_, va) in enumerate(w.folds):
            pred, second = self.own[i]
            out.append(metrics.score(w.task, w.y[va], pred,
                                     w.beside(second, va, self.partner.get(i)), w.classes))
        pred, second = self.own[0]
        return out, w.blocks_of(pred, second, w.folds[0][1], self.partner.get(0))


def stream(w: _Work) -> dict:
    """A model that learns from batches, first fitted on the rows in memory, trains on every
    training row of a table read in batches but the validation rows, for the time it is given;
    then it is scored on those validation rows, which it never saw, and on the test rows."""
    est = _prior_model(w, "stream_fit")
    if est is None:
        raise RuntimeError("the first fit's model file is missing or not the one it wrote; "
                           "run again with --retry-failed")
    tr, va = w.folds[0]
    rng = np.random.default_rng(w.job.seed)
    params = sp.defaults(w.cand.space)
    t_start = time.monotonic()
    fit_seconds, cpu_seconds, streamed = _stream_refit(w, est, tr, w.job.prior_fit_seconds, 0.0,
                                                       keep_out=va)
    ctx = w.context(params, None, n_train=streamed)
    blocks = w.blocks(est, va)
    return w.finish(
        est, ctx, fit_seconds=fit_seconds, cpu_seconds=cpu_seconds, cv=blocks,
        cv_train=[w.train_score(est, tr, rng)], blocks=blocks,
        tuning=untuned("tuning did not fit beside training on every row", params),
        evaluation={"level": "holdout" if w.holdout else "validation_only", "stage": "stream",
                    "folds": 0 if w.holdout else 1, "tuned": False,
                    "trained_rows": streamed, "sampled": False, "streamed": True,
                    "note": f"the {len(va):,} validation rows were kept out of the rows it "
                            "streamed, and scored after"},
        cv_seconds=time.monotonic() - t_start)


def _stream_refit(w: _Work, est, fitted_rows: np.ndarray, first_seconds: float,
                  first_cpu: float, keep_out: np.ndarray | None = None
                  ) -> tuple[float, float, int]:
    """The model fitted on the rows in memory trains again on every training row of a table
    read in batches (its encoding and, for LightGBM, its bins stay those learned in memory),
    except the rows in memory at ``keep_out`` (validation rows, to be scored after). Returns the
    (wall, CPU) seconds of both fits and the rows streamed."""
    from nnvsml.data.large import BATCH_ROWS, TableScan

    stream = w.stream
    positions, y_codes = stream["train_positions"], stream["y_train"]
    if keep_out is not None and len(keep_out):
        kept = ~np.isin(positions, stream["memory_positions"][keep_out])
        positions, y_codes = positions[kept], y_codes[kept]
    head = est[:-1] if isinstance(est, Pipeline) and len(est.steps) > 1 else None
    encode = head.transform if head is not None else (lambda X: X)
    labels = np.asarray(w.classes, dtype=object) if w.classes is not None else None
    scan = TableScan(stream["path"])

    def chunks():
        for frame, where in scan.frames(positions, stream["columns"]):
            y = y_codes[where]
            yield encode(frame), (labels[y] if labels is not None else y)

    y_all = labels[y_codes] if labels is not None else y_codes
    max_time = timing.per_fit(w.budget, 1, w.overshoot) if w.timed else None
    if max_time is not None:
        w.eta(max_time + timing.EVAL_OVERHEAD)
    w.progress(f"training on all {len(y_all):,} training rows, read in batches")
    t0, c0 = time.perf_counter(), _cpu_seconds()
    final_step(est).stream_fit(chunks, y_all, reference=(encode(take(w.X, fitted_rows)),
                                                         w.y[fitted_rows]),
                               batch_size=BATCH_ROWS, max_time=max_time)
    return (first_seconds + time.perf_counter() - t0, first_cpu + _cpu_seconds() - c0,
            int(len(positions)))


def _sampled(evaluation: dict, sampling: dict) -> dict:
    """What a model of a table read in batches trained on, stated."""
    if evaluation.get("streamed"):
        rows = int(evaluation.get("trained_rows") or sampling["train_rows"])
        note = (f"trained on {rows:,} of the {sampling['train_rows']:,} training rows, read in "
                f"batches of {sampling['batch_rows']:,} (first fitted on the rows in memory)")
    else:
        note = (f"trained on a stratified sample of the {sampling['train_rows']:,} training rows "
                "(the table is read in batches; this model learns from rows in memory only)")
    return {**evaluation, "streamed": bool(evaluation.get("streamed")),
            "sampled": bool(evaluation.get("sampled")) or not evaluation.get("streamed"),
            "table_train_rows": sampling["train_rows"],
            "note": "; ".join(n for n in (evaluation.get("note"), note) if n)}


@dataclass
class _Written:
    """A file being written under a temporary ``path``; once written, its digest and its final
    run-relative name."""

    path: Path
    sha256: str = ""
    written: str = ""


@contextmanager
def _writing(run_dir: Path, kind: str, model: str):
    """A temporary file in the folder of ``kind`` that, when the block ends without error, is
    renamed to its content-addressed name (``artifacts.file_name``)."""
    folder = run_dir / artifacts.FOLDERS[kind][0]
    folder.mkdir(parents=True, exist_ok=True)
    out = _Written(folder / f".{model}.{os.getpid()}.tmp")
    try:
        yield out
        out.sha256 = artifacts.digest(out.path)
        out.written = artifacts.file_name(kind, model, out.sha256)
        os.replace(out.path, run_dir / out.written)
    finally:
        out.path.unlink(missing_ok=True)


def _outputs(est, task, X):
    """Predictions and probabilities in one pass: a classifier's label is its most probable
    class (a network's forward pass is the cost of both). An unsupervised model's cluster ids,
    or its flags and anomaly scores."""
    if not get_task(task).supervised:
        return unsupervised_outputs(est, task, X)
    if task != "regression" and hasattr(est, "predict_proba") and hasattr(est, "classes_"):
        proba = est.predict_proba(X)
        return np.asarray(est.classes_)[np.argmax(proba, axis=1)], proba
    return est.predict(X), None


def _predict_timed(est, X, task):
    """Predictions for the test rows, the best of a few timed passes over them, and the CPU
    seconds of that pass (the energy estimate counts every core the model kept busy)."""
    times, proba = [], None
    unsupervised = not get_task(task).supervised
    for _ in range(3):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        y_pred, scores = _outputs(est, task, X) if unsupervised else (est.predict(X), None)
        times.append((time.perf_counter() - t0, _cpu_seconds() - c0))
        if sum(t for t, _ in times) > 2.0:  # a stable figure; slow models are timed once or twice
            break
    if unsupervised:
        proba = scores
    elif task != "regression" and hasattr(est, "predict_proba"):
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


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies, so a killed run leaves no orphans."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the parent's own cleanup still applies
