"""Feature extractors and meta-estimators of the traditional candidates: each checked against
a reference (scikit-image's HOG, a textbook DTW, hand-computed statistics) or against what it
promises (time bounds honoured, samples stratified, probabilities that sum to one), and every
traditional candidate of images and text trained in-process on small real data."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from lightgbm import LGBMClassifier
from makedata import shared, sms_rows, write_tones_wav
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import RidgeClassifierCV
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from nnvsml.data import load_dataset
from nnvsml.errors import InputError
from nnvsml.models import select
from nnvsml.models.features import HOG, DTWNeighbors, MFCCStats, Pixels, Rocket, SummaryFeatures
from nnvsml.models.features.series import fill_gaps, valid_lengths
from nnvsml.models.registry import BuildContext
from nnvsml.models.time_bounded import Calibrated, Subsampled, TimeBounded


def digit_images():
    """scikit-learn's 8x8 digits as nnvsml's image layout: uint8 (n, 8, 8, 1)."""
    d = load_digits()
    return (d.images * 255 / 16).round().astype(np.uint8)[..., None], d.target


# --- images ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, cell", [((8, 8, 1), None), ((28, 28, 1), (4, 4)),
                                         ((20, 24, 3), (5, 6))])
def test_hog_matches_scikit_image(shape, cell):
    skimage_feature = pytest.importorskip("skimage.feature")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, *shape), dtype=np.uint8)
    hog = HOG(pixels_per_cell=cell).fit(images)
    ours = hog.transform(images)
    assert ours.shape == (6, hog.n_features_out_)
    for img, row in zip(images, ours):
        ref = skimage_feature.hog(img, orientations=9, pixels_per_cell=hog.pixels_per_cell_,
                                  cells_per_block=(2, 2), block_norm="L2-Hys",
                                  channel_axis=-1, feature_vector=True)
        np.testing.assert_allclose(row, ref, rtol=1e-4, atol=1e-5)


def test_hog_refuses_images_too_small_and_of_another_size():
    with pytest.raises(InputError, match="too small"):
        HOG(pixels_per_cell=(8, 8)).fit(np.zeros((2, 8, 8, 1), np.uint8))
    hog = HOG().fit(np.zeros((2, 8, 8, 1), np.uint8))
    with pytest.raises(InputError, match="resize"):
        hog.transform(np.zeros((2, 9, 8, 1), np.uint8))


def test_pixels_scale_to_unit_interval():
    images, _ = digit_images()
    X = Pixels().fit_transform(images)
    assert X.shape == (len(images), 64) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0


# --- series ------------------------------------------------------------------------------------


def reference_dtw(x, y, window):
    """Textbook O(nm) DTW with a Sakoe-Chiba band for equal lengths."""
    n, m = len(x), len(y)
    w = math.ceil(window * (max(n, m) - 1))
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - w), min(m, i + w) + 1):
            D[i, j] = (x[i - 1] - y[j - 1]) ** 2 + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return math.sqrt(D[n, m])


@pytest.mark.parametrize("window", [0.0, 0.1, 1.0])
def test_dtw_nearest_neighbour_matches_a_brute_force_search(window):
    rng = np.random.default_rng(1)
    train = rng.normal(size=(25, 1, 30)).cumsum(axis=2)
    query = rng.normal(size=(8, 1, 30)).cumsum(axis=2)
    model = DTWNeighbors(window=window).fit(train, np.arange(25) % 3)
    dist, index = model.kneighbor(query)
    for q in range(len(query)):
        ref = [reference_dtw(query[q, 0], t[0], window) for t in train]
        assert index[q] == int(np.argmin(ref))
        assert dist[q] == pytest.approx(min(ref), rel=1e-9)
    if window == 0.0:  # no warping at all: the Euclidean distance
        euclid = np.sqrt(((query[:, None, 0] - train[None, :, 0]) ** 2).sum(-1)).min(axis=1)
        np.testing.assert_allclose(dist, euclid, rtol=1e-9)


def test_dtw_sums_channels_and_handles_unequal_lengths():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(1, 2, 20))
    model = DTWNeighbors(window=0.2).fit(a, ["x"])
    dist, _ = model.kneighbor(a)
    assert dist[0] == 0.0
    short = a.copy()
    short[0, :, 15:] = np.nan  # NaN padding at the end: a shorter series
    dist, _ = model.kneighbor(short)
    assert np.isfinite(dist[0]) and dist[0] > 0
    proba = model.predict_proba(short)
    assert proba.tolist() == [[1.0]]


def test_fill_gaps_and_valid_lengths():
    X = np.array([[[1.0, 2.0, np.nan, np.nan]], [[3.0, 4.0, 5.0, 6.0]]])
    assert valid_lengths(X).tolist() == [2, 4]
    np.testing.assert_array_equal(fill_gaps(X)[0, 0], [1.0, 2.0, 2.0, 2.0])


def test_summary_features_by_hand():
    ramp = np.arange(10, dtype=float)
    X = np.full((2, 1, 12), np.nan)
    X[0, 0, :10] = ramp
    X[1, 0, :] = 5.0
    model = SummaryFeatures().fit(X)
    names = list(model.get_feature_names_out())
    F = model.transform(X)
    assert F.shape == (2, len(names))
    row = dict(zip(names, F[0]))
    get = lambda stat: next(v for k, v in row.items() if k.endswith(stat))  # noqa: E731
    assert get("mean") == pytest.approx(4.5)
    assert get("min") == 0 and get("max") == 9
    assert get("slope") == pytest.approx(1.0)
    assert get("mean_abs_diff") == pytest.approx(1.0)
    assert get("argmax_pos") == pytest.approx(1.0)
    assert get("argmin_pos") == pytest.approx(0.0)
    assert np.isfinite(F).all()


def test_rocket_is_deterministic_and_separates_shapes():
    t = np.linspace(0, 4 * np.pi, 60)
    rng = np.random.default_rng(3)
    sines = np.sin(t + rng.uniform(0, 6, (40, 1))) + rng.normal(0, 0.2, (40, 60))
    squares = np.sign(np.sin(t + rng.uniform(0, 6, (40, 1)))) + rng.normal(0, 0.2, (40, 60))
    X = np.concatenate([sines, squares])[:, None, :]
    y = np.repeat([0, 1], 40)
    rocket = Rocket(n_kernels=200, random_state=0)
    F = rocket.fit_transform(X)
    assert F.shape == (80, 400)
    ppv = F[:, 0::2]
    assert ppv.min() >= 0 and ppv.max() <= 1
    np.testing.assert_array_equal(F, Rocket(n_kernels=200, random_state=0).fit_transform(X))
    Xtr, Xte, ytr, yte = train_test_split(F, y, test_size=0.5, stratify=y, random_state=0)
    assert RidgeClassifierCV().fit(Xtr, ytr).score(Xte, yte) > 0.9


# --- audio -------------------------------------------------------------------------------------


def test_mfcc_statistics_ignore_padding(tmp_path):
    ds = load_dataset(write_tones_wav(tmp_path / "tones", n_per_class=4))
    X = np.asarray(ds.X)
    mfcc = MFCCStats().fit(X)
    F = mfcc.transform(X)
    assert F.shape == (len(X), 80) and np.isfinite(F).all()
    # Padding one clip with silent frames leaves its features unchanged.
    floor = np.float32(math.log(1e-10))
    padded = np.concatenate([X[:1], np.full((1, X.shape[1], 30), floor, np.float32)], axis=2)
    np.testing.assert_allclose(mfcc.transform(padded), F[:1], rtol=1e-5, atol=1e-5)
    with pytest.raises(InputError, match="mel bins"):
        mfcc.transform(X[:, :10])


# --- meta-estimators ---------------------------------------------------------------------------


def test_time_bounded_forest_stops_when_its_time_is_up():
    X, y = load_digits(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=5000, n_jobs=1, random_state=0)
    start = time.perf_counter()
    model = TimeBounded(forest, max_time=1.0).fit(X, y)
    assert time.perf_counter() - start < 5
    assert model.stopped_by_time_ and model.stopped_by_ == "time_limit"
    assert 8 <= model.n_members_ < 5000
    assert model.score(X, y) > 0.9
    assert model.feature_importances_.shape == (64,)


def test_time_bounded_lightgbm_stops_and_untimed_trains_all():
    X, y = load_digits(return_X_y=True)
    booster = LGBMClassifier(n_estimators=100_000, learning_rate=0.05, n_jobs=1, verbose=-1)
    model = TimeBounded(booster, max_time=1.0).fit(X, y)
    assert model.stopped_by_time_ and 0 < model.n_members_ < 100_000
    assert model.predict_proba(X).shape == (len(X), 10)
    full = TimeBounded(LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1)).fit(X, y)
    assert not full.stopped_by_time_ and full.n_members_ == 5


def test_subsampled_keeps_every_class_share():
    X, y = load_digits(return_X_y=True)
    model = Subsampled(LinearSVC(), max_rows=300, random_state=0).fit(X, y)
    assert model.n_rows_used_ == 300
    assert list(model.classes_) == list(range(10))
    assert model.score(X, y) > 0.8


def test_calibrated_gives_probabilities_even_with_a_singleton_class():
    X, y = load_digits(return_X_y=True)
    model = Calibrated(LinearSVC()).fit(X, y)
    proba = model.predict_proba(X)
    assert model.calibration_folds_ == 3
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    y = y.copy()
    y[0] = 99  # one row of a class of its own: nothing to calibrate on
    model = Calibrated(LinearSVC()).fit(X, y)
    assert model.calibration_folds_ == 0 and model.calibration_ == "none"
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)


def test_calibrated_holds_out_rows_instead_of_folds_on_large_data():
    X, y = load_digits(return_X_y=True)
    model = Calibrated(LinearSVC(), max_cv_rows=1000).fit(X, y)
    assert model.calibration_ == "holdout 20%" and model.calibration_folds_ == 0
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (model.classes_[proba.argmax(axis=1)] == y).mean() > 0.9


# --- every traditional candidate of images and text, in-process ---------------------------------


def fit_candidates(modality, X_train, y_train, X_test, y_test, info):
    ctx = BuildContext(task="multiclass", kinds={}, n_train=len(y_train), seed=0, max_time=20,
                       n_jobs=1, modality=modality, info=info)
    scores = {}
    for cand in select("multiclass", modality):
        if cand.family != "traditional":
            continue
        model = cand.build(ctx).fit(X_train, y_train)
        proba = model.predict_proba(X_test)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        scores[cand.name] = float((model.predict(X_test) == y_test).mean())
    return scores


def test_every_traditional_image_candidate_learns_digits():
    images, y = digit_images()
    Xtr, Xte, ytr, yte = train_test_split(images, y, train_size=600, test_size=400,
                                          stratify=y, random_state=0)
    scores = fit_candidates("image", Xtr, ytr, Xte, yte, {"height": 8, "width": 8, "channels": 1})
    assert set(scores) == {"logistic_regression_pixels", "linear_svm_pixels", "knn_pixels",
                           "hog_linear_svm", "random_forest_pixels", "lightgbm_pixels",
                           "rbf_svm_pixels"}
    for name, acc in scores.items():
        assert acc > 0.85, (name, acc)


def test_every_traditional_text_candidate_learns_spam():
    path = shared("sms-spam", "SMSSpamCollection.gz")
    if not path.exists():
        pytest.skip(f"{path} is absent")
    rows = sms_rows(600)
    X, y = rows["message"].to_numpy(dtype=object), rows["label"].to_numpy()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    scores = fit_candidates("text", Xtr, ytr, Xte, yte, {})
    assert set(scores) == {"tfidf_naive_bayes", "tfidf_logistic_regression", "tfidf_linear_svm"}
    for name, acc in scores.items():
        assert acc > 0.9, (name, acc)


def test_temperature_scaling_without_a_finite_factor_falls_back_to_platt_scaling():
    """scikit-learn raises when temperature scaling finds no finite factor (a UCR set's ROCKET
    ridge under load, 2026-12-07): the calibrator then uses Platt scaling and says so."""
    tried = []

    def fit(method):
        tried.append(method)
        if method == "temperature":
            raise RuntimeError("Temperature scaling fails to optimize during calibration. "
                               "Reason from `scipy.optimize.minimize_scalar`: NaN result "
                               "encountered.")
        return method

    calibrated = Calibrated(RidgeClassifierCV(), method="temperature")
    assert calibrated._calibrated(fit) == "sigmoid" and tried == ["temperature", "sigmoid"]
    assert calibrated.calibration_method_.startswith("sigmoid (temperature scaling failed")

    def broken(method):
        raise RuntimeError("boom")

    # A failure of Platt scaling itself is the model's own: it propagates.
    with pytest.raises(RuntimeError, match="boom"):
        Calibrated(RidgeClassifierCV(), method="sigmoid")._calibrated(broken)
