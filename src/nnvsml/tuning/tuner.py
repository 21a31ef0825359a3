"""Tune one candidate with Optuna on the shared tuning split, inside the candidate's process.

Every candidate of both families is tuned the same way: the same strategy, the same tuning
rows, the same share of its time (or the same number of trials under ``--trials``), the
defaults as the first trial. The tuning rows are a seeded 80/20 split of the first fold's
training part, fixed for the run: trials never see the test rows, and never see that fold's
validation rows. The chosen configuration is then cross-validated and refit like an untuned one.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import TrialState

from nnvsml import metrics, timing
from nnvsml.data.dataset import take
from nnvsml.metrics import GREATER_IS_BETTER
from nnvsml.models import BuildContext, Candidate
from nnvsml.models import space as sp
from nnvsml.tuning.pruning import fit_trial, prunable
from nnvsml.tuning.storage import load_study, open_storage
from nnvsml.tuning.strategies import get_strategy
from nnvsml.unsupervised.outputs import outputs
from nnvsml.unsupervised.scores import Outputs

#: Under a wall-clock budget a search that has not improved its best score for this many trials
#: has stalled: it stops, and its unused seconds go to the family's next candidates (cheap models
#: otherwise spend dozens of trials on gains of 1e-4 that the expensive ones then lack).
STALL_TRIALS = 20


@dataclass(frozen=True)
class TuningPlan:
    """The run's tuning settings, the same for every candidate."""

    strategy: str = "none"
    #: Trials per candidate; None: as many as the candidate's tuning share of time allows.
    trials: int | None = None
    #: Optuna storage URL (an SQLite file in the run directory by default).
    storage: str | None = None
    #: Prefix of every study's name, unique to the run, so a shared database keeps runs apart.
    study_prefix: str = "nnvsml"


class TuningTimeout(Exception):
    """The tuning share of the candidate's time ran out in the middle of a trial."""


def untuned(reason: str, params: dict) -> dict:
    return {"strategy": "none", "trials": 0, "seconds": 0.0, "best_params": params,
            "history": [], "reason": reason}


def tune(
    cand: Candidate,
    plan: TuningPlan,
    *,
    X,
    y: np.ndarray,
    split: tuple[np.ndarray, np.ndarray],
    task: str,
    classes,
    metric: str,
    seed: int,
    make_ctx: Callable[[dict, float | None], BuildContext],
    budget: timing.TimeBudget | None,
    trial_max_time: float | None,
    eval_seconds: Callable[[float], tuple[float, timing.TimeBudget]] | None = None,
    progress: Callable[[str], None] = lambda message: None,
    space: np.ndarray | None = None,
) -> dict:
    """Run the study of ``cand`` and return its ``tuning`` record, ``best_params`` included.

    ``budget`` (the tuning time) ends tuning under a wall-clock budget; with ``plan.trials`` it
    is None and exactly that many trials finish. ``eval_seconds(fit_s)`` estimates what
    evaluating a configuration whose trial fit took ``fit_s`` will cost, and the time left for
    it, so a configuration that cannot be evaluated in time is not chosen. ``space``: for an
    unsupervised task, every row in the common space its metrics are computed in (the models
    then fit on ``X`` alone).
    """
    strategy = get_strategy(plan.strategy)
    defaults = sp.defaults(cand.space)
    if strategy.name == "none":
        return untuned("--search none: the declared defaults", defaults)
    if not cand.space:
        return untuned("the candidate declares no hyperparameters to tune", defaults)

    # Scores times ``sign``: higher is better whatever the metric's direction.
    sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
    direction = "maximize" if sign > 0 else "minimize"
    study = load_study(open_storage(plan.storage), f"{plan.study_prefix}:{cand.name}", direction,
                       strategy.sampler(cand.space, seed), strategy.pruner())
    if not study.trials:
        # Helper processes tuning the same study may start at the same moment: the defaults
        # are queued once.
        study.enqueue_trial(defaults, skip_if_exists=True)
    tr, va = split
    X_tr, y_tr, X_va, y_va = take(X, tr), y[tr], take(X, va), y[va]
    if space is not None:
        y_tr = None  # an unsupervised model learns from the rows alone
    kind = prunable(cand.build(make_ctx(defaults, None))) if strategy.prunes else None
    prunes = kind is not None
    limit = strategy.max_trials(cand.space)
    durations: list[float] = []
    stalled = timed_out = False

    def objective(trial: optuna.Trial) -> float:
        nonlocal timed_out
        params = sp.suggest(trial, cand.space)
        trial.set_user_attr("defaults", params == defaults)
        # Which process ran it: a study in a shared database may be tuned from several machines.
        trial.set_user_attr("worker", f"{platform.node()}:{os.getpid()}")
        max_time = trial_max_time if budget is None else timing.trial_seconds(budget,
                                                                              trial_max_time)
        est = cand.build(make_ctx(params, max_time))
        t0 = time.perf_counter()
        try:
            with timing.alarm(None if budget is None else budget.remaining(), lambda: TuningTimeout(
                    "the tuning time ran out during the trial")):
                fit_trial(est, X_tr, y_tr, X_va, y_va, trial if prunes else None)
        except optuna.TrialPruned:
            trial.set_user_attr("fit_seconds", time.perf_counter() - t0)
            raise
        except TuningTimeout:
            timed_out = True
            trial.set_user_attr("error", "the tuning time ran out during this trial")
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:300])
            raise
        trial.set_user_attr("fit_seconds", time.perf_counter() - t0)
        if space is not None:
            pred, scores = outputs(est, task, X_va)
            proba = Outputs(space[va], scores)
        else:
            pred = est.predict(X_va)
            proba = (est.predict_proba(X_va)
                     if task != "regression" and hasattr(est, "predict_proba") else None)
        value = metrics.score(task, y_va, pred, proba, classes)[metric]
        if value is None:
            raise ValueError(f"{metric} is undefined on the tuning rows")
        return value

    while not timed_out:
        trials = study.get_trials(deepcopy=False)  # one read of the storage per trial
        done = _finished(trials)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        if plan.trials is not None and done >= plan.trials:
            break
        if limit is not None and done >= limit:
            break
        if budget is not None and done:
            typical = statistics.median(durations) if durations else 0.0
            if budget.expired() or not timing.fits_in(typical, budget):
                break
            if not _evaluation_fits(complete, sign, cand, eval_seconds, typical, trial_max_time):
                break
            if _stalled([sign * t.value for t in complete]):
                stalled = True
                break
        best = max((sign * t.value for t in complete), default=None)
        progress(f"tuning ({strategy.name}): trial {done + 1}"
                 + (f"/{plan.trials}" if plan.trials else "")
                 + (f", best {sign * best:.4f}" if best is not None else ""))
        t0 = time.monotonic()
        study.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=False)
        durations.append(time.monotonic() - t0)

    record = _record(study, strategy.name, cand, defaults, kind, metric, split, eval_seconds,
                     sign)
    if stalled:
        record["stopped"] = f"no better score in the last {STALL_TRIALS} trials"
    return record


def _evaluation_fits(complete: list, sign: float, cand: Candidate, eval_seconds,
                     next_trial: float, trial_max_time: float | None) -> bool:
    """Whether one more trial still leaves time to cross-validate the best configuration so far.

    A model that cannot stop itself must finish every fit it starts: its fits, as timed in the
    trials, must fit in the time left. Networks and time-bounded ensembles fit the time they
    are given, unless even their shortest fit (one epoch, a first batch of trees) ran well past
    it: then the budget is too tight to spend more of it on trials.
    """
    if eval_seconds is None or not complete:
        return True
    if cand.time_aware:
        shortest = min(t.user_attrs.get("fit_seconds", 0.0) for t in complete)
        return trial_max_time is None or shortest <= timing.TRIAL_OVERRUN * trial_max_time
    best = max(complete, key=lambda t: sign * t.value)
    needed, left = eval_seconds(best.user_attrs.get("fit_seconds", 0.0))
    return timing.evaluation_fits(needed, left, next_trial)


def _stalled(scores: list[float]) -> bool:
    """Whether the last ``STALL_TRIALS`` scores (higher is better, in trial order) all failed to
    beat the best before them."""
    if len(scores) <= STALL_TRIALS:
        return False
    return max(scores[-STALL_TRIALS:]) <= max(scores[:-STALL_TRIALS])


def _finished(trials: list) -> int:
    """Trials that ran to an end: completed, pruned, or failed by their own error (a trial whose
    process was killed has no error recorded and does not count)."""
    return sum(1 for t in trials
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               or (t.state == TrialState.FAIL and "error" in t.user_attrs))


def _record(study, strategy: str, cand: Candidate, defaults: dict, kind: str | None, metric: str,
            split, eval_seconds, sign: float) -> dict:
    trials = [t for t in study.get_trials(deepcopy=False)
              if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    history, elapsed = [], 0.0
    for t in sorted(trials, key=lambda t: t.number):
        if t.datetime_start and t.datetime_complete:
            elapsed += (t.datetime_complete - t.datetime_start).total_seconds()
        if t.state == TrialState.COMPLETE:
            history.append([round(elapsed, 3), float(t.value)])
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    ranked = sorted(complete, key=lambda t: (-sign * t.value, t.number))
    chosen, selection = None, "best trial"
    for t in ranked:
        fit_s = t.user_attrs.get("fit_seconds", 0.0)
        if eval_seconds is None or cand.time_aware:
            chosen = t
            break
        needed, left = eval_seconds(fit_s)
        if timing.evaluation_fits(needed, left):
            chosen = t
            break
    if chosen is None and ranked:
        chosen = min(ranked, key=lambda t: t.user_attrs.get("fit_seconds", math.inf))
        selection = ("fastest trial: no better configuration can be cross-validated in the "
                     "time left")
    elif chosen is not None and ranked and chosen is not ranked[0]:
        selection = (f"trial {chosen.number}: better ones would not finish cross-validation in "
                     "the time left")
    default_trial = next((t for t in complete if t.user_attrs.get("defaults")), None)
    errors = [t.user_attrs["error"] for t in trials if "error" in t.user_attrs]
    record = {
        "strategy": strategy,
        "trials": len(trials),
        "completed": len(complete),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "seconds": round(elapsed, 3),
        "best_params": {**defaults, **(chosen.params if chosen else {})},
        "history": history,
        "metric": metric,
        "best_score": float(chosen.value) if chosen else None,
        "default_params": defaults,
        "default_score": float(default_trial.value) if default_trial else None,
        "selection": selection if chosen else "no trial completed: the defaults are used",
        "pruned_over": kind,
        "study": study.study_name,
        "tuning_rows": {"train": int(len(split[0])), "validation": int(len(split[1]))},
        # Processes whose trials the study holds: more than one when helpers on a cluster's
        # spare CPUs tuned beside the candidate (or machines shared a --storage database).
        "workers": len({t.user_attrs.get("worker") for t in trials} - {None}),
    }
    if errors:
        record["errors"] = sorted(set(errors))[:3]
    return record
