"""Audio candidates. Traditional ones classify clip-level MFCC statistics; every candidate's
estimator takes nnvsml's raw audio layout, float32 log-mel spectrograms ``(n, n_mels, frames)``.
"""

from __future__ import annotations

from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from nnvsml.models import spaces
from nnvsml.models.features.audio import MFCCStats
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.traditional import forest_max_features
from nnvsml.models.time_bounded import (
    Calibrated,
    Subsampled,
    TimeBounded,
    svm_sample_notes,
    time_bound_notes,
)

CLASSIFICATION = frozenset({"binary", "multiclass"})
AUDIO = frozenset({"audio"})

#: Above this many training clips the exact SVM trains on a stratified sample (as for images):
#: its cost grows with the square of the rows, and calibration fits it three more times.
SVM_AUDIO_MAX_ROWS = 10_000
FOREST_TREES = 300
MFCC = ("MFCC statistics: 20 coefficients (DCT of the log-mel spectrum), mean and std over the "
        "clip's frames of each and of its frame-to-frame difference (80 features)")


SVM_SPACE = spaces.inverse_regularisation(C=1.0)
FOREST_SPACE = spaces.forest(min_samples_leaf=1)


def build_mfcc_svm(ctx: BuildContext):
    svm = Calibrated(SVC(kernel="rbf", **ctx.hyper(SVM_SPACE), gamma="scale"))
    return Pipeline([("mfcc", MFCCStats()), ("scale", StandardScaler()),
                     ("model", Subsampled(svm, max_rows=SVM_AUDIO_MAX_ROWS, random_state=ctx.seed))])


def mfcc_svm_notes(ctx: BuildContext) -> dict:
    return svm_sample_notes(ctx.n_train, SVM_AUDIO_MAX_ROWS, "clips")


def build_mfcc_forest(ctx: BuildContext):
    hp = ctx.hyper(FOREST_SPACE)
    forest = RandomForestClassifier(
        n_estimators=FOREST_TREES, min_samples_leaf=hp["min_samples_leaf"],
        max_features=forest_max_features(hp["max_features"], True), n_jobs=ctx.n_jobs,
        random_state=ctx.seed)
    return Pipeline([("mfcc", MFCCStats()), ("model", TimeBounded(forest, max_time=ctx.max_time))])


register(Candidate(
    "mfcc_svm", "traditional", CLASSIFICATION, build_mfcc_svm,
    f"exact RBF support vector machine on standardised MFCC statistics (a stratified sample of "
    f"{SVM_AUDIO_MAX_ROWS:,} clips when there are more), Platt-calibrated",
    modalities=AUDIO, preprocessing=MFCC, notes=mfcc_svm_notes, space=SVM_SPACE, growth=2.0))
register(Candidate(
    "mfcc_random_forest", "traditional", CLASSIFICATION, build_mfcc_forest,
    f"random forest of up to {FOREST_TREES} trees on MFCC statistics, stops adding trees when "
    "its time is up", modalities=AUDIO, preprocessing=MFCC, explanations=("importances",),
    time_aware=True, notes=time_bound_notes, space=FOREST_SPACE))
