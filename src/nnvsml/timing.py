"""Time: the one owner of seconds. Every split, share, reserve and margin of a run's wall-clock
budget is taken here, each factor named once with why it has the value it has.

A :class:`TimeBudget` is a deadline on one clock. Work is given a budget and plans against
``remaining()``; a budget hands out parts of itself with :meth:`TimeBudget.share` (a fraction of
what is left), :meth:`TimeBudget.split` (by weights) and :meth:`TimeBudget.until` (a cap). No
other module multiplies or subtracts seconds: they ask this one.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager

# -- the run ------------------------------------------------------------------------------------
#: Held back from the candidates for writing results, the test-row comparison and the verdict, so
#: the whole run ends inside its budget: 2% of it plus a second, at most 15 s.
RUN_RESERVE_FRACTION = 0.02
RUN_RESERVE_MIN = 1.0
RUN_RESERVE_MAX = 15.0
#: Without --analysis-budget, the analyses may take this share of --budget on top of it.
ANALYSIS_SHARE = 0.5

# -- the anytime protocol -----------------------------------------------------------------------
#: Share of a family's seconds offered to securing every candidate's first scored result (one
#: default fit, validation rows, test rows); what it leaves goes to folds and tuning. Networks and
#: time-bounded ensembles fit what they are given, so this is also how long their first fit trains.
SECURE_SHARE = 0.4
#: A candidate's first fit may run past its share, when its own measured progress says it will
#: finish, into its family's improving time: the next candidates of its family keep their parts
#: of the securing time, and at least ``SECURE_FLOOR`` each. (With a floor alone, the kNN of a
#: 10-million-row table ran 236 s and left LightGBM, secured last, 13 s of a 900 s family.)
SECURE_FLOOR = 2.0
#: A first fit that nothing was measured for yet may take this many times its part before it is
#: stopped: enough for a slow start on a busy machine, not enough for a hang to eat its family's
#: time.
FIRST_FIT_PATIENCE = 3.0
#: Smallest share worth starting a process for: under it a candidate is recorded as skipped.
MIN_CANDIDATE_SECONDS = 2.0
#: The parent stops a process this long after the time it announced (it is past its own plan: a
#: fit that ran long, a slow machine) unless the process announces a later, measured finish.
GRACE_SECONDS = 3.0
#: Share of the seconds left to a fit that trains (time-aware models); the rest covers prediction,
#: scoring, the bootstrap and saving, so the candidate finishes instead of being cut.
FIT_SHARE = 0.85
#: The shortest training time a time-aware fit is given: one epoch or one batch of trees.
MIN_FIT_SECONDS = 0.5
#: Growth of a progressive sample between two fits: twice the rows, as FLAML grows its samples.
SAMPLE_GROWTH = 2.0
#: How far past its time limit a network's first epoch may run before it is cut at a batch (a
#: network with no finished epoch has no validated weights); later epochs are cut at the limit.
FIRST_EPOCH_OVERRUN = 2.0
#: A network that trains on from its first fit gains from any time; under this it is not started.
MIN_TRAIN_ON_SECONDS = 3.0
#: A time-aware model's folds are worth running when each fold fit gets at least this share of
#: what its first fit trained: they stop at their time and keep their best epoch / members.
FOLD_FIT_FLOOR = 0.7
#: A longer second fit (no time for folds) is worth it only with this much more time than the first.
LONGER_FIT_GAIN = 1.5

# -- tuning -------------------------------------------------------------------------------------
#: Share of a candidate's improvement time spent tuning under a wall-clock budget; the rest
#: cross-validates, refits and scores the chosen configuration.
TUNING_SHARE = 0.5
#: A configuration whose cross-validation is expected to take longer than this share of the time
#: left is passed over for the best one that fits (only models that cannot stop themselves).
FIT_MARGIN = 0.8
#: Seconds of a candidate's evaluation besides its fits: predicting, bootstrap intervals, saving.
EVAL_OVERHEAD = 1.5
#: Under a wall-clock budget a candidate is tuned when at least this many trials (each as long
#: as one of its fits, as its first fit measured) fit in its tuning share beside its folds.
MIN_TRIALS = 5
#: A trial's fit may use at most this share of the tuning time left (the rest ends the trial).
TRIAL_SHARE = 0.85
#: A time-aware candidate's shortest trial ran this much past its training time: the budget is
#: too tight to spend more of it on trials.
TRIAL_OVERRUN = 1.5

# -- the analyses -------------------------------------------------------------------------------
#: An analysis plans to end this share of its time in, and a second earlier, so its last epoch's
#: overshoot and sending its block back fit before its process is cut.
ANALYSIS_PLAN_SHARE = 0.9
ANALYSIS_PLAN_MARGIN = 1.0
#: An analysis offered less than this is skipped: it could not refit a model in it.
MIN_ANALYSIS_SECONDS = 8.0
#: A refit of a time-aware model in an analysis may train this much longer than the comparison's
#: fit scaled to its rows (epochs do not shrink exactly with the rows).
REFIT_SLACK = 1.5
#: No refit of a network in an analysis is given less time.
MIN_REFIT_SECONDS = 1.0

# -- the analyses' plans ------------------------------------------------------------------------
#: A time-aware refit gets its equal part of this share of the analysis's time left; the rest
#: covers scoring it and sending its result back.
ANALYSIS_FIT_SHARE = 0.9
#: The share of the analysis's time left its planned refits may fill when it picks how many rows
#: they train on; the rest covers sampling, scoring and what the analysis does between fits.
AFFORDABLE_SHARE = 0.7
#: A refit costs the comparison's fit time per row times this: a smaller refit pays the same
#: per-fit overheads (setup, a validation split) over fewer rows.
ROW_COST_SLACK = 1.2
#: A refit of a model that is not time-aware costs at least this, however few its rows.
MIN_QUICK_REFIT_SECONDS = 0.05
#: An analysis starts no further refit with less than this left: none would end in it.
LAST_REFIT_SECONDS = 1.0
#: Kernel SHAP over a table's columns or a text's words gets at most this share of a model's
#: explanation time: the intrinsic values, the rules and LIME share the rest.
KERNEL_SHAP_SHARE = 0.5
#: A series' or spectrogram's explanation time, in shares: occlusion saliency (models without
#: gradients), Kernel SHAP over its parts, and the predictions the surrogate tree learns from;
#: what the three leave is LIME's and the reserve's.
SALIENCY_SHARE = 0.2
SIGNAL_SHAP_SHARE = 0.4
SURROGATE_SHARE = 0.1
#: LIME runs only if, after its predicted cost, this share of the model's explanation time is
#: still left for what follows it.
LIME_RESERVE = 0.1
#: For a table LIME keeps more in hand: its predicted cost counts the predictions only, not the
#: explainer's own work per sample (discretising, weighting, fitting its linear model).
TABULAR_LIME_RESERVE = 0.25
#: Added to a table's predicted LIME cost: building the explainer over the training rows.
TABULAR_LIME_SETUP_SECONDS = 1.0


class TimeBudget:
    """Seconds until a deadline. ``seconds=None`` (or inf) is a budget without a deadline."""

    def __init__(self, seconds: float | None, *, start: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.start = clock() if start is None else start
        self.seconds = math.inf if seconds is None else float(seconds)
        self.deadline = self.start + self.seconds

    @classmethod
    def until_time(cls, deadline: float, clock: Callable[[], float] = time.monotonic
                   ) -> TimeBudget:
        now = clock()
        return cls(deadline - now, start=now, clock=clock)

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.seconds)

    def elapsed(self) -> float:
        return self.clock() - self.start

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def expired(self) -> bool:
        return self.clock() >= self.deadline

    def share(self, fraction: float, *, floor: float = 0.0) -> TimeBudget:
        """A part of what is left: ``fraction`` of it, at least ``floor`` while that much is left."""
        left = self.remaining()
        return TimeBudget(min(left, max(floor, fraction * left)), clock=self.clock)

    def split(self, weights: Mapping[str, float]) -> dict[str, TimeBudget]:
        """What is left, in parts proportional to ``weights`` (all starting now)."""
        total = sum(weights.values())
        left = self.remaining()
        return {k: TimeBudget(left * w / total if total else 0.0, clock=self.clock)
                for k, w in weights.items()}

    def until(self, seconds: float | None) -> TimeBudget:
        """This budget, capped at ``seconds`` from now."""
        left = self.remaining()
        return TimeBudget(left if seconds is None else min(left, seconds), clock=self.clock)

    def less(self, seconds: float) -> TimeBudget:
        """This budget, ending ``seconds`` earlier (a margin kept for what follows the work)."""
        return TimeBudget(max(0.0, self.remaining() - seconds), clock=self.clock)

    def __repr__(self) -> str:
        return f"TimeBudget(remaining={self.remaining():.2f} s)"


# -- the rules that turn measured seconds into plans ---------------------------------------------
def run_reserve(total: float) -> float:
    """Seconds of a run's budget held back for results and the verdict."""
    if not math.isfinite(total):
        return 0.0
    return min(RUN_RESERVE_FRACTION * total + RUN_RESERVE_MIN, RUN_RESERVE_MAX)


def analysis_seconds(budget_seconds: float | None, analysis_budget: float | None) -> float | None:
    """Seconds the analyses get on top of the comparison."""
    if analysis_budget is not None:
        return analysis_budget
    return None if budget_seconds is None else ANALYSIS_SHARE * budget_seconds


def per_fit(budget: TimeBudget, fits_left: int, overshoot: float = 0.0) -> float:
    """Training seconds of the next of ``fits_left`` time-aware fits: their share of the time
    left, less what earlier fits ran past their own (learned, so the candidate ends in time)."""
    share = FIT_SHARE * budget.remaining() / max(1, fits_left)
    return max(MIN_FIT_SECONDS, share - overshoot)


def scaled(seconds: float, rows_from: int, rows_to: int, exponent: float = 1.0) -> float:
    """Seconds a fit timed on ``rows_from`` rows is expected to take on ``rows_to`` rows when its
    cost grows as rows**exponent."""
    return seconds * (max(1, rows_to) / max(1, rows_from)) ** exponent


def growth_exponent(points: list[tuple[int, float]], default: float) -> float:
    """The exponent of rows in the fit time, measured from the last two (rows, seconds) points
    when they are long enough to time; ``default`` (the model's declared growth) otherwise."""
    if len(points) < 2:
        return default
    (n1, t1), (n2, t2) = points[-2], points[-1]
    if n2 <= n1 or t1 < 0.05 or t2 < 0.05:
        return default
    return min(3.0, max(0.5, math.log(t2 / t1) / math.log(n2 / n1)))


def fits_in(expected: float, budget: TimeBudget, overhead: float = 0.0) -> bool:
    """Whether work expected to take ``expected`` seconds, plus ``overhead``, ends in time."""
    return expected + overhead <= budget.remaining()


def trial_seconds(budget: TimeBudget, per_fit_seconds: float | None) -> float | None:
    """Training seconds of one tuning trial: what a final fit gets, within the tuning time left."""
    if per_fit_seconds is None or not budget.bounded:
        return per_fit_seconds
    return max(MIN_FIT_SECONDS, min(per_fit_seconds, TRIAL_SHARE * budget.remaining()))


def evaluation_fits(needed: float, budget: TimeBudget, next_trial: float = 0.0) -> bool:
    """Whether a configuration whose evaluation needs ``needed`` seconds can still be evaluated
    (after one more trial of ``next_trial`` seconds)."""
    return needed + EVAL_OVERHEAD + next_trial <= FIT_MARGIN * budget.remaining()


def analysis_plan(time_limit: float, start: float, clock=time.monotonic) -> TimeBudget:
    """The budget an analysis plans against inside a process given ``time_limit`` seconds."""
    return TimeBudget(ANALYSIS_PLAN_SHARE * time_limit - ANALYSIS_PLAN_MARGIN, start=start,
                      clock=clock)


def refit_seconds(fit_seconds: float, rows_from: int, rows_to: int) -> float:
    """Training seconds of an analysis's refit of a time-aware model: the comparison's fit time
    scaled to the refit's rows, with slack."""
    return max(MIN_REFIT_SECONDS, REFIT_SLACK * scaled(fit_seconds, rows_from, rows_to))


def per_refit(left: float, fits_left: int, cap: float | None = None) -> float:
    """Training seconds of the next of an analysis's ``fits_left`` time-aware refits: their
    equal part of the time ``left``, at most ``cap`` (the comparison's fit scaled to the
    refit's rows, :func:`refit_seconds`, when its clock stopped that fit)."""
    fair = ANALYSIS_FIT_SHARE * left / max(1, fits_left)
    if cap is not None:
        fair = min(fair, cap)
    return max(MIN_REFIT_SECONDS, fair)


def refits_cost(fit_seconds: float, n_train: int, rows: float, shares: list[float],
                time_aware: bool) -> float:
    """Seconds an analysis expects its refits of one model to take on ``rows`` rows, one refit
    per entry of ``shares`` (the share of the rows it uses): the comparison's fit time per row,
    with slack, never less than the model's floor (a network trains a few epochs whatever the
    rows)."""
    per_row = ROW_COST_SLACK * fit_seconds / max(1, n_train)
    floor = MIN_REFIT_SECONDS if time_aware else MIN_QUICK_REFIT_SECONDS
    return sum(max(floor, per_row * s * rows) for s in shares)


def affordable_rows(cost: Callable[[float], float], left: float, full: int, least: int,
                    share: float = AFFORDABLE_SHARE) -> int:
    """The most rows (at most ``full``, at least ``least``) whose planned refits, expected to
    take ``cost(rows)`` seconds, fit in ``share`` of the time ``left``."""
    if not math.isfinite(left):
        return full
    budget = share * left
    if cost(full) <= budget:
        return full
    lo, hi = float(least), float(full)
    for _ in range(40):  # bisection: cost grows with the rows
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cost(mid) <= budget else (lo, mid)
    return int(lo)


def out_of_time(left: float) -> bool:
    """Whether an analysis with ``left`` seconds should start no further refit."""
    return left < LAST_REFIT_SECONDS


def equal_part(left: float, parts: int) -> float:
    """The next of ``parts`` equal parts of the time ``left`` (earlier parts that ended early
    leave their time to the later ones)."""
    return left / max(1, parts)


def rows_for(seconds: float, cost_per_row: float, least: int, most: int,
             share: float = 1.0) -> int:
    """How many rows a step that costs ``cost_per_row`` seconds each can take in ``share`` of
    ``seconds``, between ``least`` and ``most`` (``most`` wins when they cross; all of them
    without a clock)."""
    if not math.isfinite(seconds):
        return most
    return int(min(most, max(least, share * seconds / max(cost_per_row, 1e-9))))


def time_for(cost: float, left: float, reserve_share: float, seconds: float) -> bool:
    """Whether a step predicted to take ``cost`` seconds, out of the ``left`` ones, still leaves
    ``reserve_share`` of ``seconds`` (always, without a clock)."""
    if not math.isfinite(left):
        return True
    return left - cost > reserve_share * seconds


def needed_budget(budget_seconds: float, share_given: float, share_needed: float) -> float:
    """The --budget under which a candidate given ``share_given`` seconds would get
    ``share_needed``: the budget scaled by the ratio, rounded up to 10 s."""
    ratio = max(1.0, share_needed / max(share_given, 1e-9))
    return math.ceil(budget_seconds * ratio / 10.0) * 10.0


def stop_after(soft: float, hard: float, announced: float | None) -> float:
    """Seconds after its start at which a process is stopped: a grace period after the later of
    its limit and the end it announced from its measured progress, and never after ``hard``."""
    planned = soft if announced is None else max(soft, announced)
    return min(hard, planned + GRACE_SECONDS)


# -- deadlines inside a process -----------------------------------------------------------------
_RETRY_SECONDS = 0.05


def _importing(frame) -> bool:
    """Whether ``frame`` runs inside an import: a signal that raises there leaves the module
    half-imported in ``sys.modules`` and breaks every later use of it in the process."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def alarm(seconds: float | None, error: Callable[[], BaseException]):
    """Raise ``error()`` in this (main) thread after ``seconds``; None: never. A deadline that
    falls during an import waits for the import to end, then raises."""
    if seconds is None or not math.isfinite(seconds):
        yield
        return

    def _raise(signum, frame):
        if _importing(frame):
            signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
            return
        raise error()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def first_fit_limits(secure_left: float, family_left: float, candidates_left: int
                     ) -> tuple[float, float]:
    """(limit, most) of a candidate's first fit: its equal part of its family's securing time,
    and the family's time less the parts (at least a floor) of the candidates still to secure."""
    n = max(1, candidates_left)
    limit = max(0.0, min(secure_left / n, family_left))
    most = max(limit, family_left - max(SECURE_FLOOR, limit) * (n - 1))
    return limit, most


def second_stage(*, limit: float, first_fit: float, first_rows: int, all_rows: int,
                 n_fits: int, growth: float, time_aware: bool, stopped_by_time: bool,
                 sampled: bool, holdout: bool = False, trains_on: bool = False,
                 streams: bool = False) -> tuple[str | None, bool, str]:
    """What a candidate's second stage does with ``limit`` seconds, from its measured first fit
    (``first_fit`` seconds on ``first_rows`` rows): ``improve`` (the folds and the refit, tuned
    first when at least ``MIN_TRIALS`` trials fit beside them), ``again`` (one longer fit, or a
    larger sample), ``stream`` (``streams``: a model that learns from batches, on a table read in
    batches, trains on every training row instead) or None; whether to tune; the reason."""
    if not math.isfinite(limit):
        return "improve", True, "no clock"
    full = scaled(first_fit, first_rows, all_rows, 1.0 if time_aware else growth)
    # Under holdout validation the first fit already is the protocol's fit: only tuning, or
    # training a network on that its clock stopped, can add to it.
    tunings = (True,) if holdout else (True, False)
    for tune in tunings:
        # A trial fits as long as a fold's fit: tuning pays when several fit in its share.
        if tune and TUNING_SHARE * limit < MIN_TRIALS * full + EVAL_OVERHEAD:
            continue
        fits = limit * ((1 - TUNING_SHARE) if tune else 1.0) - EVAL_OVERHEAD
        how = "tuned, then " if tune else ""
        if time_aware:
            # Each fit of the folds gets its part of the time and stops there. Worth it when
            # that part is most of what the first fit trained (scaled to the rows, when it
            # stopped on its own), else the folds would end with a weaker model.
            per = FIT_SHARE * fits / max(1, n_fits)
            if per >= FOLD_FIT_FLOOR * (first_fit if stopped_by_time else full):
                return "improve", tune, f"{how}{n_fits} fits of {per:.1f} s fit its {limit:.0f} s"
        elif full * n_fits <= fits:
            return "improve", tune, (f"{how}{n_fits} fits of about {full:.1f} s fit its "
                                     f"{limit:.0f} s")
    if streams and FIT_SHARE * limit >= MIN_TRAIN_ON_SECONDS:
        return "stream", False, (f"tuning and the folds do not fit its {limit:.0f} s: it trains on "
                                 "every training row, read in batches, instead")
    if time_aware:
        per = FIT_SHARE * (limit - EVAL_OVERHEAD) / max(1, n_fits)
        # What a fold's fit would need to match the first fit: its seconds, or when it ended
        # on its own, its seconds scaled to the rows a fold trains on.
        need = FOLD_FIT_FLOOR * (first_fit if stopped_by_time else full)
        short = (f"tuning it beside its holdout fit needs about {MIN_TRIALS * full + full:.0f} s"
                 if holdout else
                 f"the folds would train each fit {per:.1f} s, less than the {need:.1f} s that "
                 f"match the first fit's training")
        if stopped_by_time and trains_on and FIT_SHARE * limit >= MIN_TRAIN_ON_SECONDS:
            return "again", False, f"{short}: it trains on for {limit:.0f} s instead"
        if stopped_by_time and FIT_SHARE * limit >= LONGER_FIT_GAIN * first_fit:
            return "again", False, f"{short}: one longer fit instead"
        return None, False, f"{limit:.0f} s left: {short}"
    if sampled and scaled(first_fit, first_rows, int(first_rows * SAMPLE_GROWTH), growth) \
            <= limit - EVAL_OVERHEAD:
        return "again", False, "a larger sample fits; the folds do not"
    if holdout:
        return None, False, (f"its first fit is the holdout protocol's fit; tuning it needs "
                             f"about {MIN_TRIALS * full + full:.0f} s, {limit:.0f} s were left")
    return None, False, (f"the folds need about {full * n_fits:.0f} s ({n_fits} fits of "
                         f"{full:.1f} s); {limit:.0f} s were left")


def batch_cut(max_seconds: float, first_epoch: bool) -> float:
    """Seconds of training after which a network stops at the end of the current batch."""
    return max_seconds * (FIRST_EPOCH_OVERRUN if first_epoch else 1.0)


def unmeasured_fit(budget: TimeBudget) -> float:
    """Seconds a first fit with no measurement yet announces it may need."""
    return FIRST_FIT_PATIENCE * budget.remaining()


def equal_parts(seconds: float, names: list[str]) -> dict[str, float]:
    """``seconds`` shared equally (each family's pool under the equal-per-family rule)."""
    return {name: seconds / max(1, len(names)) for name in names}


def overrun(seconds: float, max_time: float) -> float:
    """How far a fit ran past the training time it was given (setup, its last epoch)."""
    return seconds - max_time


def after_tuning(limit: float, tuned: bool) -> float:
    """Seconds of a candidate's improvement time left for its folds and refit."""
    return (1 - TUNING_SHARE) * limit if tuned else limit


def per_candidate(family_left: float, candidates_left: int) -> float:
    """A candidate's part of what its family has left: the family's seconds shared by those
    still to run, so time a fast one leaves goes to the next of the same family."""
    return max(0.0, family_left / max(1, candidates_left))
