"""Image candidates. Traditional ones take raw pixels or HOG descriptors; every candidate's
estimator takes nnvsml's raw image layout, uint8 ``(n, height, width, channels)``.

Defaults are the ones a practitioner would reach for first; tuning is the protocol's job.
"""

from __future__ import annotations

from lightgbm import LGBMClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, LinearSVC

from nnvsml.models import spaces
from nnvsml.models.features.images import HOG, Pixels, auto_cell_size
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
IMAGE = frozenset({"image"})

#: Above this many training rows the exact RBF SVM trains on a stratified sample of this size:
#: its cost grows with the square of the rows (and more), and so does predicting (~3,400
#: support vectors from 8,000 MNIST images: 32 s per 10,000 predictions on one core).
SVM_IMAGE_MAX_ROWS = 10_000
FOREST_TREES = 200
LIGHTGBM_ROUNDS = 400

PIXELS = "raw pixels scaled to [0, 1]"
HOG_PRE = ("HOG (9 orientations; cells of 2, 4, 8 or 16 px for images up to 16, 32, 128 px "
           "or larger; 2x2-cell blocks, L2-Hys)")


LINEAR_SPACE = spaces.inverse_regularisation(C=1.0)
SVM_SPACE = spaces.inverse_regularisation(C=1.0)
FOREST_SPACE = spaces.forest(min_samples_leaf=1)
# Half of the pixels per tree: neighbouring pixels are redundant, and it halves the time.
LIGHTGBM_SPACE = spaces.lightgbm(learning_rate=0.1, num_leaves=31, colsample_bytree=0.5)
KNN_SPACE = spaces.neighbours(k=5)


def build_logistic_pixels(ctx: BuildContext):
    # lbfgs fits one multinomial (softmax) model over all classes.
    return Pipeline([("pixels", Pixels()),
                     ("model", LogisticRegression(**ctx.hyper(LINEAR_SPACE), max_iter=300))])


def build_linear_svm_pixels(ctx: BuildContext):
    return Pipeline([("pixels", Pixels()),
                     ("model", Calibrated(LinearSVC(**ctx.hyper(LINEAR_SPACE),
                                                    random_state=ctx.seed),
                                          random_state=ctx.seed))])


def build_rbf_svm_pixels(ctx: BuildContext):
    # An SVM has no probabilities: Platt scaling supplies them (ROC-AUC and log loss need
    # them), on 3 folds up to 5,000 rows, above on 20 % of the (sampled) rows held out.
    svm = Calibrated(SVC(kernel="rbf", **ctx.hyper(SVM_SPACE), gamma="scale"),
                     random_state=ctx.seed)
    return Pipeline([("pixels", Pixels()),
                     ("model", Subsampled(svm, max_rows=SVM_IMAGE_MAX_ROWS, random_state=ctx.seed))])


def svm_image_notes(ctx: BuildContext) -> dict:
    """The SVM's large-data rule, recorded in the results of every run."""
    return svm_sample_notes(ctx.n_train, SVM_IMAGE_MAX_ROWS, "images")


def build_forest_pixels(ctx: BuildContext):
    hp = ctx.hyper(FOREST_SPACE)
    forest = RandomForestClassifier(
        n_estimators=FOREST_TREES, min_samples_leaf=hp["min_samples_leaf"],
        max_features=forest_max_features(hp["max_features"], True), n_jobs=ctx.n_jobs,
        random_state=ctx.seed)
    return Pipeline([("pixels", Pixels()), ("model", TimeBounded(forest, max_time=ctx.max_time))])


def build_lightgbm_pixels(ctx: BuildContext):
    booster = LGBMClassifier(n_estimators=LIGHTGBM_ROUNDS, **ctx.hyper(LIGHTGBM_SPACE),
                             n_jobs=ctx.n_jobs, random_state=ctx.seed, verbose=-1)
    return Pipeline([("pixels", Pixels()), ("model", TimeBounded(booster, max_time=ctx.max_time))])


def build_knn_pixels(ctx: BuildContext):
    return Pipeline([("pixels", Pixels()),
                     ("model", KNeighborsClassifier(**ctx.hyper(KNN_SPACE), n_jobs=ctx.n_jobs))])


def build_hog_linear_svm(ctx: BuildContext):
    # No standardisation: L2-Hys has already put every block on one scale (as Dalal & Triggs
    # used it), and standardising blows up the near-constant bins; liblinear then needed over
    # 14 minutes for 38,400 MNIST descriptors instead of 16 s, for a lower accuracy.
    return Pipeline([("hog", HOG(n_jobs=ctx.n_jobs)),
                     ("model", Calibrated(LinearSVC(**ctx.hyper(LINEAR_SPACE),
                                                    random_state=ctx.seed),
                                          random_state=ctx.seed))])


def hog_notes(ctx: BuildContext) -> dict:
    h, w = ctx.info.get("height"), ctx.info.get("width")
    if not (h and w):
        return {}
    side = auto_cell_size(int(h), int(w))
    return {"hog_pixels_per_cell": f"{side}x{side}"}


register(Candidate(
    "logistic_regression_pixels", "traditional", CLASSIFICATION, build_logistic_pixels,
    "multinomial logistic regression (L2, lbfgs, 300 iterations) on raw pixels",
    modalities=IMAGE, preprocessing=PIXELS, explanations=("coefficients",), space=LINEAR_SPACE))
register(Candidate(
    "linear_svm_pixels", "traditional", CLASSIFICATION, build_linear_svm_pixels,
    "linear SVM (one-vs-rest) on raw pixels, Platt-calibrated probabilities (3 folds)",
    modalities=IMAGE, preprocessing=PIXELS, space=LINEAR_SPACE))
register(Candidate(
    "knn_pixels", "traditional", CLASSIFICATION, build_knn_pixels,
    "k-nearest neighbours (k=5, distance-weighted, Euclidean) on raw pixels",
    modalities=IMAGE, preprocessing=PIXELS, space=KNN_SPACE))
register(Candidate(
    "hog_linear_svm", "traditional", CLASSIFICATION, build_hog_linear_svm,
    "linear SVM (one-vs-rest) on HOG descriptors, Platt-calibrated probabilities (3 folds)",
    modalities=IMAGE, preprocessing=HOG_PRE, notes=hog_notes, space=LINEAR_SPACE))
register(Candidate(
    "random_forest_pixels", "traditional", CLASSIFICATION, build_forest_pixels,
    f"random forest of up to {FOREST_TREES} trees on raw pixels, stops adding trees when its "
    "time is up", modalities=IMAGE, preprocessing=PIXELS, explanations=("importances",),
    time_aware=True, notes=time_bound_notes, space=FOREST_SPACE))
register(Candidate(
    "lightgbm_pixels", "traditional", CLASSIFICATION, build_lightgbm_pixels,
    f"gradient-boosted trees (LightGBM, up to {LIGHTGBM_ROUNDS} rounds, learning rate 0.1, half "
    "the pixels per tree) on raw pixels, stops adding rounds when its time is up",
    modalities=IMAGE, preprocessing=PIXELS, explanations=("importances",), time_aware=True,
    notes=time_bound_notes, space=LIGHTGBM_SPACE))
register(Candidate(
    "rbf_svm_pixels", "traditional", CLASSIFICATION, build_rbf_svm_pixels,
    f"exact RBF support vector machine on raw pixels (a stratified sample of "
    f"{SVM_IMAGE_MAX_ROWS:,} training images when there are more), Platt-calibrated",
    modalities=IMAGE, preprocessing=PIXELS, notes=svm_image_notes, space=SVM_SPACE, growth=2.0))
