"""Clustering and anomaly detection, both families: real models on small real data.

Wine (178 rows, three cultivars) is clustered with its cultivar as the evaluation column; the
breast-cancer table becomes an anomaly set by keeping 5% of its malignant rows among the benign
ones. Neither column is ever shown to a model (a candidate that receives it fails the run).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.pipeline import Pipeline

import nnvsml
from nnvsml.api import plan
from nnvsml.errors import InputError
from nnvsml.models import BuildContext, Candidate
from nnvsml.models.unsupervised import Clustering, features
from nnvsml.unsupervised.scores import (Outputs, anomaly_scores, clustering_scores,
                                        resampled_anomaly, resampled_clustering)


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    return load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})


@pytest.fixture(scope="module")
def frauds() -> pd.DataFrame:
    """Benign tumours as the usual rows, 5% malignant ones as the anomalies to find."""
    bunch = load_breast_cancer(as_frame=True)
    df = bunch.frame.rename(columns={"target": "benign"})
    normal = df[df.benign == 1]
    rare = df[df.benign == 0].sample(n=int(0.05 * len(normal)), random_state=0)
    out = pd.concat([normal, rare]).sample(frac=1.0, random_state=0).reset_index(drop=True)
    out["anomaly"] = np.where(out.pop("benign") == 0, "malignant", "benign")
    return out


# ---- the scores -----------------------------------------------------------------------------


def test_scores_and_their_bootstrap_agree_with_scikit_learn():
    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    labels = KMeans(3, n_init=4, random_state=0).fit_predict(X)
    refit = KMeans(3, n_init=1, random_state=7).fit_predict(X)
    out = Outputs(X, None, refit)
    direct = clustering_scores(y, labels, out)
    assert direct["silhouette"] == pytest.approx(skm.silhouette_score(X, labels))
    assert direct["ari"] == pytest.approx(skm.adjusted_rand_score(y, labels))
    assert direct["cluster_accuracy"] > 0.9  # wine's cultivars are nearly k-means' clusters
    ones = resampled_clustering(y, [(labels, out)], None, np.ones((1, len(y))))
    for name, value in direct.items():
        assert ones[name][0, 0] == pytest.approx(value), name

    rng = np.random.default_rng(0)
    truth = (rng.random(400) < 0.05).astype(int)
    scores = rng.normal(size=400) + 2 * truth
    flags = (scores > np.quantile(scores, 0.95)).astype(int)
    out = Outputs(np.zeros((400, 1)), scores, scores + rng.normal(scale=0.1, size=400))
    direct = anomaly_scores(truth, flags, out)
    assert direct["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, scores))
    assert direct["average_precision"] == pytest.approx(skm.average_precision_score(truth,
                                                                                    scores))
    ones = resampled_anomaly(truth, [(flags, out)], None, np.ones((1, 400)))
    for name, value in direct.items():
        assert ones[name][0, 0] == pytest.approx(value), name
    # Without an evaluation column the external scores are undefined, not zero.
    blind = anomaly_scores(np.full(400, np.nan), flags, out)
    assert blind["roc_auc"] is None and blind["stability_rho"] > 0.9


# ---- a real comparison ------------------------------------------------------------------------


def build_peeking_kmeans(ctx: BuildContext):
    return Pipeline(features(ctx) + [("model", _Peeking(n_clusters=3))])


class _Peeking(Clustering):
    """k-means that fails when it is handed anything besides the rows."""

    def __init__(self, method="kmeans", n_clusters=None, init="k-means++", n_init=10,
                 covariance_type="full", linkage="ward", eps_quantile=0.9, min_samples=5,
                 min_cluster_size=10, seed=0):
        super().__init__(method, n_clusters, init, n_init, covariance_type, linkage,
                         eps_quantile, min_samples, min_cluster_size, seed=seed)

    def fit(self, X, y=None):
        if y is not None:
            raise AssertionError("the evaluation column reached a model")
        return super().fit(X)


PEEKING = Candidate(name="peeking_kmeans", family="traditional", tasks=frozenset({"clustering"}),
                    build=build_peeking_kmeans, description="k-means that checks its inputs")


def test_clustering_both_families_scored_against_a_column_no_model_sees(wine, tmp_path):
    result = nnvsml.compare(wine, task="clustering", evaluate_with="cultivar", budget=30,
                            models=[PEEKING, "gaussian_mixture", "dbscan", "autoencoder_kmeans",
                                    "deep_clustering"],
                            analyses="none", out=tmp_path / "run", seed=0)
    res = result.results
    assert res["dataset"]["target"] is None and res["dataset"]["evaluate_with"] == "cultivar"
    assert "cultivar" not in [c["name"] for c in res["dataset"]["columns"]]
    assert res["protocol"]["primary_metric"] == "ari"
    assert "linear models' encoding" in res["protocol"]["metric_space"]
    models = {m["name"]: m for m in res["models"]}
    assert all(m["status"] == "ok" for m in models.values()), {
        n: m["reason"] for n, m in models.items()}
    # Three cultivars are three clear groups: the models that can count them find them.
    assert models["peeking_kmeans"]["test"]["ari"] > 0.7
    assert models["autoencoder_kmeans"]["test"]["ari"] > 0.5
    for m in models.values():
        assert set(m["test"]) >= {"silhouette", "davies_bouldin", "calinski_harabasz",
                                  "stability_ari", "ari", "nmi", "cluster_accuracy"}
        low, high = m["test_ci"]["ari"]["low"], m["test_ci"]["ari"]["high"]
        assert low <= m["test"]["ari"] <= high
    assert models["deep_clustering"]["training"]["n_epochs"] >= 1
    comparison = res["test_comparison"]
    assert comparison["metric"] == "ari" and comparison["test"] == "paired bootstrap of the test rows"
    assert res["verdict"]["family"] in ("traditional", "neural", "tie")
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Clusters on a map of the test rows" in html and html.count("data:image/png") >= 3

    # predict gives cluster ids for new rows, from the model's safe files too.
    rows = tmp_path / "rows.csv"
    wine.head(20).to_csv(rows, index=False)
    out = subprocess.run([sys.executable, "-m", "nnvsml", "predict", str(tmp_path / "run"),
                          str(rows), "--model", "deep_clustering"],
                         capture_output=True, text=True, check=True)
    ids = pd.read_csv(pd.io.common.StringIO(out.stdout))["prediction"]
    assert len(ids) == 20 and set(ids) <= set(range(10))
    assert models["deep_clustering"]["formats"]["safe"]["status"] == "ok"


def test_learning_curves_and_damaged_data_for_clustering_never_show_the_column(wine, tmp_path):
    """The analyses that apply without a target refit each family's best on fewer or damaged
    rows, fitted without the evaluation column (the peeking model fails if it gets it) and
    scored against it on the validation rows."""
    result = nnvsml.compare(wine, task="clustering", evaluate_with="cultivar", budget=20,
                            models=[PEEKING, "autoencoder_kmeans"],
                            analyses=["learning_curve", "data_quality"], analysis_budget=90,
                            out=tmp_path / "run", seed=0)
    evidence = result.results["evidence"]
    curve = evidence["learning_curve"]
    assert curve["status"] == "ok" and curve["metric"] == "ari", curve.get("reason")
    for family in ("traditional", "neural"):
        points = curve["families"][family]["points"]
        assert len(points) >= 3 and all(p["mean"] is not None for p in points)
    # k-means on the encoded table finds the three cultivars from the largest size up.
    assert curve["families"]["traditional"]["points"][-1]["mean"] > 0.6
    quality = evidence["data_quality"]
    assert quality["status"] == "ok", quality.get("reason")
    assert "label_noise" in quality["not_applicable"]
    noise = quality["perturbations"]["feature_noise"]["families"]
    assert all(s is not None for f in noise.values() for s in f["scores"]), noise
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Learning curves" in html and "Data quality" in html


def test_anomaly_detection_finds_the_rare_rows(frauds, tmp_path):
    result = nnvsml.compare(frauds, task="anomaly", evaluate_with="anomaly", budget=30,
                            contamination=0.05, analyses="none", out=tmp_path / "run", seed=0)
    res = result.results
    assert res["protocol"]["primary_metric"] == "average_precision"
    assert res["protocol"]["split"] == "stratified"  # the test rows hold anomalies
    models = {m["name"]: m for m in res["models"]}
    assert {"isolation_forest", "local_outlier_factor", "one_class_svm", "pca_reconstruction",
            "autoencoder"} <= set(models)
    assert all(m["status"] == "ok" for m in models.values())
    # Malignant tumours are far from the benign ones: a detector ranks them high.
    assert models["isolation_forest"]["test"]["roc_auc"] > 0.85
    assert models["autoencoder"]["test"]["roc_auc"] > 0.75
    for m in models.values():
        assert 0.0 <= m["test"]["flagged_share"] <= 0.5
        assert m["tuning"]["strategy"] == "none" and "label-free" in m["tuning"]["reason"]
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Anomaly scores" in html and "a true anomaly" in html

    rows = tmp_path / "rows.csv"
    frauds.head(10).to_csv(rows, index=False)  # the evaluation column is dropped, unused
    out = subprocess.run([sys.executable, "-m", "nnvsml", "predict", str(tmp_path / "run"),
                          str(rows), "--model", "autoencoder"],
                         capture_output=True, text=True, check=True)
    answer = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert list(answer.columns) == ["prediction", "anomaly_score"]
    assert set(answer["prediction"]) <= {0, 1} and (answer["anomaly_score"] >= 0).all()

    # The service answers a flag and the score for each row, as predict does.
    from fastapi.testclient import TestClient

    from nnvsml.deploy.model import load
    from nnvsml.deploy.service import create_app

    client = TestClient(create_app(load(tmp_path / "run", "autoencoder"), "t" * 32))
    records = json.loads(frauds.head(10).drop(columns="anomaly").to_json(orient="records"))
    r = client.post("/v1/predict/batch", json={"rows": records},
                    headers={"Authorization": "Bearer " + "t" * 32})
    assert r.status_code == 200, r.text
    served = r.json()["predictions"]
    assert [a["prediction"] for a in served] == answer["prediction"].tolist()
    assert np.allclose([a["anomaly_score"] for a in served], answer["anomaly_score"])


def test_without_an_evaluation_column_the_verdict_says_its_evidence_is_weaker(wine, tmp_path):
    result = nnvsml.compare(wine.drop(columns="cultivar"), task="clustering", budget=20,
                            models=["kmeans", "autoencoder_kmeans"], analyses="none",
                            report=False, out=tmp_path / "run", search="none")
    res = result.results
    assert res["protocol"]["primary_metric"] == "silhouette"
    models = {m["name"]: m for m in res["models"]}
    assert models["kmeans"]["test"]["ari"] is None
    assert models["kmeans"]["test"]["silhouette"] > 0.1
    assert any("No evaluation column" in r for r in res["verdict"]["reasons"])


def test_anomalies_without_an_evaluation_column_are_decided_on_stability(frauds, tmp_path):
    """Detectors with no column to judge them are compared on how stably they rank the rows:
    every validation fold pairs the fold's model with the next fold's (no extra fit), the test
    rows with a refit on a bootstrap resample. The verdict decides on it and says that this is
    weaker evidence (it once had no validation score, so nothing decided), and the report shows
    each detector's scores and top anomalies."""
    result = nnvsml.compare(frauds.drop(columns="anomaly"), task="anomaly", budget=20,
                            models=["isolation_forest", "autoencoder"], analyses="none",
                            out=tmp_path / "run", search="none")
    res = result.results
    assert res["protocol"]["primary_metric"] == "stability_rho"
    for m in res["models"]:
        assert m["status"] == "ok" and m["test"]["stability_rho"] is not None, m["name"]
        folds = m["cv"]["stability_rho"]["folds"]
        assert len(folds) == 5 and all(-1 <= rho <= 1 for rho in folds), (m["name"], folds)
        # A ranking agrees with another fit's on the same rows far better than chance.
        assert m["cv"]["stability_rho"]["mean"] > 0.5, (m["name"], folds)
    verdict = res["verdict"]
    assert verdict["decided"], verdict["reasons"]
    assert verdict["comparison"]["metric"] == "stability_rho"
    assert any("No evaluation column" in r and "weaker evidence" in r
               for r in verdict["reasons"])
    html = (tmp_path / "run" / "report.html").read_text()
    assert "most anomalous" in html and "Histograms of the test rows" in html


def test_a_stability_fold_is_paired_with_the_next_folds_model():
    """Each fold's stability compares its model with the next fold's (the first fold's for
    the last) on the fold's validation rows; a model that always agrees with itself scores 1,
    one that contradicts its partner scores below it."""
    from types import SimpleNamespace

    from nnvsml.protocol.worker import _FoldPairs
    from nnvsml.tasks import get_task

    X = np.arange(40, dtype=float)[:, None]
    folds = [(np.setdiff1d(np.arange(40), va), va) for va in np.array_split(np.arange(40), 4)]

    class Detector:
        def __init__(self, sign):
            self.sign = sign

        def anomaly_score(self, X):
            return self.sign * np.asarray(X)[:, 0]

        def predict(self, X):
            return (self.anomaly_score(X) > 30).astype(int)

    def run(signs):
        from nnvsml.protocol.worker import _Work

        w = SimpleNamespace(spec=get_task("anomaly"), folds=folds, task="anomaly", X=X,
                            y=np.full(40, np.nan), classes=None, space=X, per_row=0.0)
        w.judged_by = lambda est, rows: _Work.judged_by(w, est, rows)
        w.beside = lambda second, rows, refit=None: _Work.beside(w, second, rows, refit)
        w.blocks_of = lambda *a: []
        pairs = _FoldPairs(w)
        for i, sign in enumerate(signs):
            pairs.fitted(i, Detector(sign))
        return [s["stability_rho"] for s in pairs.scores()[0]]

    assert run([1, 1, 1, 1]) == pytest.approx([1, 1, 1, 1])
    # Fold 2's model ranks backwards: fold 1 (partner: fold 2) and fold 2 (partner: fold 3)
    # disagree, the others agree.
    assert run([1, 1, -1, 1]) == pytest.approx([1, -1, -1, 1])


def test_images_are_clustered_by_a_convolutional_autoencoder(tmp_path):
    digits = load_digits()
    keep = np.isin(digits.target, [0, 1, 6])
    images = (digits.images[keep] * 16).clip(0, 255).astype(np.uint8)[..., None]
    path = tmp_path / "digits.npz"
    np.savez(path, X=images, y=digits.target[keep])
    result = nnvsml.compare(str(path), task="clustering", evaluate_with="labels", clusters=3,
                            budget=30, models=["kmeans", "autoencoder_kmeans"],
                            analyses="none", out=tmp_path / "run", search="none")
    res = result.results
    assert res["dataset"]["modality"] == "image"
    models = {m["name"]: m for m in res["models"]}
    assert models["autoencoder_kmeans"]["status"] == "ok", models["autoencoder_kmeans"]["reason"]
    assert "ConvAutoencoder" in json.dumps(models["autoencoder_kmeans"]["formats"])\
        or models["autoencoder_kmeans"]["training"]["n_parameters"] > 0
    # Three digit shapes: both families separate them well.
    assert models["kmeans"]["test"]["ari"] > 0.6
    assert models["autoencoder_kmeans"]["test"]["ari"] > 0.4
    # The report shows each cluster's mean image and the pixels that set it apart.
    html = (tmp_path / "run" / "report.html").read_text()
    assert "the pixels that set the cluster apart" in html


def test_bad_unsupervised_input_is_one_clear_error(wine, frauds):
    with pytest.raises(InputError, match="predicts none"):
        nnvsml.compare(wine, task="clustering", target="cultivar", budget=10)
    with pytest.raises(InputError, match="holds 3 values"):
        nnvsml.compare(wine, task="anomaly", evaluate_with="cultivar", budget=10)
    with pytest.raises(InputError, match="not found"):
        nnvsml.compare(wine, task="clustering", evaluate_with="colour", budget=10)
    with pytest.raises(InputError, match="--evaluate-with scores clustering"):
        nnvsml.compare(wine, target="cultivar", evaluate_with="cultivar", budget=10)
    with pytest.raises(InputError, match="scored against an evaluation column"):
        plan(wine, task="clustering", metric="nmi", budget=10)


def test_every_clustering_candidate_recovers_well_separated_blobs(tmp_path):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, centers=3, n_features=4, cluster_std=0.6, random_state=3)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(blob=y)
    # 90 s for ten candidates: the two UMAP ones compile UMAP's layout (numba, 5-8 s) inside
    # their own clocks; at 60 s autoencoder_umap's first fit once ran out of time in CI.
    result = nnvsml.compare(df, task="clustering", evaluate_with="blob", budget=90,
                            analyses="none", report=False, out=tmp_path / "run", search="none")
    models = {m["name"]: m for m in result.results["models"]}
    assert set(models) == {"kmeans", "gaussian_mixture", "agglomerative", "dbscan", "hdbscan",
                           "spectral", "umap", "autoencoder_kmeans", "deep_clustering",
                           "autoencoder_umap"}
    for name, m in models.items():
        assert m["status"] == "ok", (name, m["reason"])
        assert m["test"]["ari"] > 0.9, (name, m["test"])


def test_planted_anomalies_are_ranked_high_by_both_families(tmp_path):
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(570, 6)) @ rng.normal(size=(6, 6)) * 0.5  # correlated usual rows
    odd = rng.uniform(-1, 1, size=(30, 6)) * 8.0  # rows far outside them
    df = pd.DataFrame(np.vstack([normal, odd]), columns=[f"f{i}" for i in range(6)])
    df["planted"] = np.r_[np.zeros(570, int), np.ones(30, int)]
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    result = nnvsml.compare(df, task="anomaly", evaluate_with="planted", budget=30,
                            models=["isolation_forest", "autoencoder"], analyses="none",
                            report=False, out=tmp_path / "run")
    models = {m["name"]: m for m in result.results["models"]}
    assert models["isolation_forest"]["test"]["roc_auc"] > 0.9
    assert models["autoencoder"]["test"]["roc_auc"] > 0.9


def test_a_constant_table_or_too_many_clusters_is_refused(tmp_path):
    flat = pd.DataFrame({"a": [1.0] * 30, "b": ["x"] * 30})
    with pytest.raises(InputError, match="no usable input column"):
        nnvsml.compare(flat, task="clustering", budget=10)
    small = load_wine(as_frame=True).frame.head(40)
    with pytest.raises(InputError, match="--clusters 50 is more than"):
        plan(small, task="clustering", clusters=50, budget=10)


def test_digits_deep_clustering_refines_the_autoencoders_codes():
    """On scikit-learn's 8x8 digits the IDEC refinement must not lose to the autoencoder's codes
    clustered by k-means, and both must find most of the digits (NMI > 0.6; k-means on the
    pixels reaches 0.74 here: see BENCHMARKS.md for the comparison under the protocol)."""
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from nnvsml.models.neural.autoencoder_estimator import Autoencoder

    digits = load_digits()
    X = (digits.images * 16).clip(0, 255).astype(np.uint8)[..., None]
    plain = Autoencoder("clustering", "image", code_size=10, n_clusters=10, max_epochs=40,
                        seed=0).fit(X)
    refined = Autoencoder("clustering", "image", code_size=10, n_clusters=10, max_epochs=40,
                          refine="dec", seed=0).fit(X)
    before, after = nmi(digits.target, plain.predict(X)), nmi(digits.target, refined.predict(X))
    assert before > 0.6 and after > 0.6
    assert after >= before - 0.01, (before, after)


def test_digits_the_autoencoders_codes_clustered_by_n2d_beat_kmeans_on_the_pixels():
    """The issue's test: on scikit-learn's 8x8 digits the autoencoder + clustering must beat
    k-means on the pixels in NMI, on rows neither saw. k-means on the codes alone does not
    (0.71 against 0.74 on these rows: 64 pixels hold little a 10-number code improves on);
    N2D (the ``autoencoder_umap`` candidate's dense network, 50 epochs, then UMAP + Gaussian
    mixture on the codes) does, by at least ``MARGIN`` for each of two seeds (measured
    2026-12-08, one UMAP start: 0.815, 0.818, 0.857 for three seeds against 0.743; 0.870-0.873 after 140-180 epochs)."""
    from sklearn.metrics import normalized_mutual_info_score as nmi
    from sklearn.model_selection import train_test_split

    from nnvsml.models.neural.autoencoder_estimator import Autoencoder
    from nnvsml.models.unsupervised_networks import N2D

    MARGIN = 0.05
    digits = load_digits()
    X = (digits.images * 16).clip(0, 255).astype(np.uint8)[..., None]
    train, test, y_train, y_test = train_test_split(X, digits.target, test_size=0.25,
                                                    stratify=digits.target, random_state=0)
    pixels = KMeans(10, n_init=10, random_state=0).fit(train.reshape(len(train), -1))
    baseline = nmi(y_test, pixels.predict(test.reshape(len(test), -1)))
    for seed in range(2):
        network = Autoencoder("clustering", "image", code_size=10, n_clusters=10,
                              max_epochs=50, refine="manifold", seed=seed, **N2D).fit(train)
        score = nmi(y_test, network.predict(test))
        assert score >= baseline + MARGIN, (seed, score, baseline)


def test_validation_blocks_each_hold_the_rare_anomalies():
    """A block without an anomaly has no average precision, and a model with one undefined
    block would have no validation score at all: against an evaluation column every block gets
    its share of each class."""
    from types import SimpleNamespace

    from nnvsml.protocol.worker import _Work
    from nnvsml.tasks import get_task

    y = np.zeros(400, dtype=int)
    y[[5, 77, 150, 151, 290, 399]] = 1
    va = np.arange(400)
    work = SimpleNamespace(spec=get_task("anomaly"), y=y)
    blocks = _Work.block_rows(work, va, 10)
    assert len(blocks) == 6  # no more blocks than anomalies
    assert sorted(np.concatenate(blocks).tolist()) == va.tolist()
    assert all(y[b].sum() == 1 for b in blocks)
    blind = SimpleNamespace(spec=get_task("anomaly"), y=np.full(400, np.nan))
    assert len(_Work.block_rows(blind, va, 10)) == 10


def test_image_anomalies_are_found_and_shown_as_images(tmp_path):
    """Digits one-class: zeros are normal, a few ones are the anomalies. Both families rank
    them high, and the report draws each detector's top anomalies as images."""
    digits = load_digits()
    rng = np.random.default_rng(0)
    zeros = np.flatnonzero(digits.target == 0)
    ones = rng.choice(np.flatnonzero(digits.target == 1), 20, replace=False)
    keep = np.r_[zeros, ones]
    images = (digits.images[keep] * 16).clip(0, 255).astype(np.uint8)[..., None]
    path = tmp_path / "zeros.npz"
    np.savez(path, X=images, y=(digits.target[keep] == 1).astype(int))
    result = nnvsml.compare(str(path), task="anomaly", evaluate_with="labels", budget=20,
                            models=["isolation_forest", "autoencoder"], analyses="none",
                            out=tmp_path / "run", search="none", seed=0)
    models = {m["name"]: m for m in result.results["models"]}
    for name, m in models.items():
        assert m["status"] == "ok", (name, m["reason"])
        assert m["test"]["roc_auc"] > 0.8, (name, m["test"])
    html = (tmp_path / "run" / "report.html").read_text()
    assert "most anomalous, as images" in html


def test_texts_from_a_table_are_clustered_by_topic(tmp_path):
    rng = np.random.default_rng(0)
    topics = {"sport": "match goal team score player league coach win season referee",
              "cooking": "recipe oven flour sugar butter bake dough salt pan simmer",
              "space": "orbit rocket planet star telescope galaxy moon launch nasa comet"}
    rows = []
    for topic, words in topics.items():
        vocab = words.split()
        for _ in range(60):
            rows.append({"text": " ".join(rng.choice(vocab, size=12)), "topic": topic})
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)
    result = nnvsml.compare(df, task="clustering", evaluate_with="topic", modality="text",
                            budget=30, models=["kmeans", "autoencoder_kmeans"], analyses="none",
                            report=False, out=tmp_path / "run", search="none")
    res = result.results
    assert res["dataset"]["modality"] == "text"
    assert "LSA" in res["protocol"]["metric_space"]
    models = {m["name"]: m for m in res["models"]}
    assert models["kmeans"]["test"]["ari"] > 0.9
    assert models["autoencoder_kmeans"]["status"] == "ok", models["autoencoder_kmeans"]["reason"]
    assert models["autoencoder_kmeans"]["test"]["ari"] > 0.6


def test_an_autoencoder_trains_on_from_its_weights_and_clusters_again():
    """The protocol's longer fit: ``continue_fit`` trains the fitted autoencoder further (its
    epochs add up, its clock stopped it) and clusters the new codes, never seeing a label."""
    from nnvsml.models.neural.autoencoder_estimator import Autoencoder

    digits = load_digits()
    X = (digits.images * 16).clip(0, 255).astype(np.uint8)[..., None]
    net = Autoencoder("clustering", "image", code_size=10, n_clusters=10, max_time=2.0,
                      seed=0).fit(X)
    first = net.n_epochs_
    assert net.stopped_by_ == "time_limit"
    net.continue_fit(X, None, max_time=2.0)
    assert net.n_epochs_ > first and net.continued_ == 1
    labels = net.predict(X)
    assert len(np.unique(labels)) == 10
    assert skm.normalized_mutual_info_score(digits.target, labels) > 0.5
