"""Time-series candidates. Traditional ones are the field's standard baselines: 1-NN under DTW,
ROCKET features with a ridge classifier, and boosted trees on summary statistics. Every
candidate's estimator takes nnvsml's raw sequence layout, float32 ``(n, channels, length)``
NaN-padded at the end.
"""

from __future__ import annotations

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from nnvsml.models import spaces
from nnvsml.models.features.series import DTWNeighbors, Rocket, SummaryFeatures
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.time_bounded import Calibrated, TimeBounded, time_bound_notes
from nnvsml.models.space import Float

CLASSIFICATION = frozenset({"binary", "multiclass"})
SEQUENCE = frozenset({"sequence"})

DTW_WINDOW = 0.1
ROCKET_KERNELS = 10_000
SUMMARY_ROUNDS = 200


#: The warping window is what the UCR archive's own DTW baseline tunes (by leave-one-out).
DTW_SPACE = {"window": Float(0.0, 0.3, default=DTW_WINDOW, grid=(0.0, 0.05, DTW_WINDOW, 0.2))}
#: Rows per leaf follow the training rows (see below), so they are not searched.
SUMMARY_SPACE = {k: v for k, v in spaces.lightgbm(learning_rate=0.05, num_leaves=15).items()
                 if k != "min_child_samples"}


def build_dtw_1nn(ctx: BuildContext):
    return DTWNeighbors(**ctx.hyper(DTW_SPACE), n_jobs=ctx.n_jobs)


def build_rocket_ridge(ctx: BuildContext):
    # As in the ROCKET paper: standardised features, ridge with its penalty chosen among 10 by
    # efficient leave-one-out. Ridge has no probabilities; temperature scaling on 3 folds
    # supplies them and keeps ridge's own predictions (one factor on all scores).
    ridge = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))
    return Pipeline([
        ("rocket", Rocket(n_kernels=ROCKET_KERNELS, random_state=ctx.seed, n_jobs=ctx.n_jobs)),
        ("scale", StandardScaler()),
        ("model", Calibrated(ridge, method="temperature")),
    ])


def summary_min_child_samples(n_train: int) -> int:
    """Rows per leaf: UCR training sets have 20 to a few hundred series, where LightGBM's
    default of 20 allows no split at all; 5 % of the rows (at least 2) lets it grow."""
    return max(2, n_train // 20)


def build_summary_lightgbm(ctx: BuildContext):
    booster = LGBMClassifier(n_estimators=SUMMARY_ROUNDS, **ctx.hyper(SUMMARY_SPACE),
                             min_child_samples=summary_min_child_samples(ctx.n_train),
                             n_jobs=ctx.n_jobs, random_state=ctx.seed, verbose=-1)
    return Pipeline([("summary", SummaryFeatures()),
                     ("model", TimeBounded(booster, max_time=ctx.max_time))])


def summary_notes(ctx: BuildContext) -> dict:
    return {"min_child_samples": summary_min_child_samples(ctx.n_train), **time_bound_notes(ctx)}


def rocket_notes(ctx: BuildContext) -> dict:
    channels = int(ctx.info.get("channels") or 1)
    notes = {"rocket_features": 2 * ROCKET_KERNELS * channels}
    if ctx.info.get("padded"):
        notes["rocket_padding"] = "shorter series extended with their last value"
    return notes


register(Candidate(
    "summary_lightgbm", "traditional", CLASSIFICATION, build_summary_lightgbm,
    f"gradient-boosted trees (LightGBM, {SUMMARY_ROUNDS} rounds, 15 leaves) on per-channel "
    "summary statistics", modalities=SEQUENCE,
    preprocessing="summary statistics per channel (mean, std, min, max, 5/25/50/75/95 % "
                  "quantiles, skewness, kurtosis, slope, mean |difference|, lag-1 "
                  "autocorrelation, positions of max and min) + series length",
    explanations=("importances",), time_aware=True, notes=summary_notes, space=SUMMARY_SPACE))
register(Candidate(
    "dtw_1nn", "traditional", CLASSIFICATION, build_dtw_1nn,
    "1-nearest neighbour under dynamic time warping (sum over channels); probabilities are "
    "the neighbour's class, one-hot", modalities=SEQUENCE,
    preprocessing=f"raw series; DTW distance with a Sakoe-Chiba band of {DTW_WINDOW:.0%} of the "
                  "length", space=DTW_SPACE))
register(Candidate(
    "rocket_ridge", "traditional", CLASSIFICATION, build_rocket_ridge,
    "ridge classifier (penalty by leave-one-out) on ROCKET features, temperature-scaled "
    "probabilities (3 folds)", modalities=SEQUENCE,
    preprocessing=f"ROCKET: {ROCKET_KERNELS:,} random convolutional kernels per channel "
                  "(proportion of positive values and max of each), standardised",
    notes=rocket_notes))
