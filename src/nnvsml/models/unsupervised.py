"""Traditional clustering and anomaly-detection candidates (scikit-learn), for every modality.

Each is a Pipeline: the rows' features (tables: the linear models' encoding; images, series and
spectrograms: their values flattened, standardised and, above 50 values, reduced by PCA) and a
final step with one contract for its task:

* clustering: ``fit(X)``, ``predict(X)`` -> cluster ids (``-1``: noise, for density methods).
  Methods without a ``predict`` of their own (agglomerative, DBSCAN, HDBSCAN) label a new row by
  its nearest training row, the usual inductive extension (DBSCAN: a core row within ``eps``);
  the graph embeddings (spectral, UMAP: :mod:`nnvsml.models.graph_clustering`) by a vote of its
  nearest fitted rows.
* anomaly: ``fit(X)``, ``anomaly_score(X)`` (higher: more anomalous) and ``predict(X)`` -> 1
  for the rows whose score is above the training rows' ``1 - contamination`` quantile.

The number of clusters is the user's (``--clusters``) or chosen by each model over
:data:`K_RANGE`: the silhouette for k-means, Ward and the graph embeddings, the BIC for the
Gaussian mixture.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, OutlierMixin, TransformerMixin
from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier, LocalOutlierFactor, NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer
from sklearn.svm import OneClassSVM

from nnvsml.models.graph_clustering import (K_CHOICE_ROWS, K_RANGE, SPECTRAL_MAX_ROWS,
                                            SPECTRAL_NEIGHBORS, UMAP_MAX_ROWS, UMAP_NEIGHBORS,
                                            SpectralKMeans, UMAPMixture, choose_k)
from nnvsml.models.graph_clustering import dense as _dense
from nnvsml.models.preprocessing import encoder
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.space import Choice, Float, Int

CLUSTERING = frozenset({"clustering"})
ANOMALY = frozenset({"anomaly"})
ALL_MODALITIES = frozenset({"tabular", "image", "sequence", "audio", "text"})
#: Ward's and HDBSCAN's memory and time grow with the square of the rows: above this they fit a
#: stated random sample and label the rest by their nearest fitted row.
QUADRATIC_MAX_ROWS = 5_000
#: The exact one-class SVM's cost grows with the square of the rows (and more).
OCSVM_MAX_ROWS = 5_000
ARRAY_DIMS = 50
FEATURES = ("tables: the linear models' encoding; arrays: values flattened on one scale, "
            f"PCA to {ARRAY_DIMS} components; texts: TF-IDF, LSA to {ARRAY_DIMS} dimensions")
#: Words a text's TF-IDF keeps (the most frequent), for both families.
TEXT_TERMS = 20_000


class ArrayFeatures(TransformerMixin, BaseEstimator):
    """Images, series or spectrograms as vectors, every value on one scale (one mean and
    standard deviation for all: pixels, or a series' values, are commensurate, and scaling each
    position apart would blow up the noise of near-constant ones such as an image's border),
    reduced by PCA above ``dims`` values."""

    def __init__(self, dims: int = ARRAY_DIMS, seed: int = 0):
        self.dims, self.seed = dims, seed

    def fit(self, X, y=None):
        flat = self._flat(X)
        self.mean_, self.scale_ = float(flat.mean()), float(flat.std()) or 1.0
        z = (flat - self.mean_) / self.scale_
        self.pca_ = (PCA(min(self.dims, *z.shape), random_state=self.seed).fit(z)
                     if z.shape[1] > self.dims else None)
        return self

    def transform(self, X):
        z = (self._flat(X) - self.mean_) / self.scale_
        return (self.pca_.transform(z) if self.pca_ is not None else z).astype(np.float32)

    @staticmethod
    def _flat(X):
        return np.nan_to_num(np.asarray(X, dtype=np.float32).reshape(len(X), -1))


class LSA(TransformerMixin, BaseEstimator):
    """A truncated SVD of a TF-IDF matrix to at most ``dims`` dimensions (fewer when the
    vocabulary is smaller: an SVD keeps fewer components than the words)."""

    def __init__(self, dims: int = ARRAY_DIMS, seed: int = 0):
        self.dims, self.seed = dims, seed

    def fit(self, X, y=None):
        self.svd_ = TruncatedSVD(max(1, min(self.dims, X.shape[1] - 1)),
                                 random_state=self.seed).fit(X)
        return self

    def transform(self, X):
        return self.svd_.transform(X)


def features(ctx: BuildContext) -> list[tuple[str, object]]:
    """The steps that turn the modality's raw rows into vectors."""
    if ctx.modality == "tabular":
        return encoder("linear", ctx.kinds, task=ctx.task, seed=ctx.seed).steps
    if ctx.modality == "text":
        # Latent semantic analysis: TF-IDF, then an SVD, then unit length (Deerwester et al.,
        # 1990; scikit-learn's text clustering example), so distances compare topics.
        return [("tfidf", TfidfVectorizer(max_features=TEXT_TERMS, sublinear_tf=True)),
                ("lsa", LSA(ARRAY_DIMS, seed=ctx.seed)),
                ("unit", Normalizer())]
    return [("features", ArrayFeatures(seed=ctx.seed))]


class Clustering(ClusterMixin, BaseEstimator):
    """One clustering method behind the task's contract (see the module's docstring)."""

    def __init__(self, method: str = "kmeans", n_clusters: int | None = None,
                 init: str = "k-means++", n_init: int = 10,
                 covariance_type: str = "full", linkage: str = "ward",
                 eps_quantile: float = 0.9, min_samples: int = 5, min_cluster_size: int = 10,
                 n_neighbors: int = SPECTRAL_NEIGHBORS, seed: int = 0):
        self.method, self.n_clusters, self.init, self.n_init = method, n_clusters, init, n_init
        self.covariance_type, self.linkage = covariance_type, linkage
        self.eps_quantile, self.min_samples = eps_quantile, min_samples
        self.min_cluster_size, self.n_neighbors, self.seed = min_cluster_size, n_neighbors, seed

    def fit(self, X, y=None):
        X = _dense(X)
        fit = getattr(self, f"_fit_{self.method}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit(X)
        labels = self.labels_
        self.n_clusters_ = int(len(np.unique(labels[labels >= 0])))
        return self

    def predict(self, X) -> np.ndarray:
        X = _dense(X)
        if self.method in ("kmeans", "gmm", "spectral", "umap"):
            return self.model_.predict(X).astype(int)
        if self.method == "dbscan":
            if self.core_ is None or not len(self.core_):
                return np.full(len(X), -1)
            dist, idx = self.core_nn_.kneighbors(X, 1)
            return np.where(dist[:, 0] <= self.eps_, self.core_labels_[idx[:, 0]], -1)
        return self.nearest_.predict(X).astype(int)

    # ---- the methods --------------------------------------------------------------------------
    def _k(self, X, labels_for) -> int:
        if self.n_clusters is not None:
            self.selection_ = {"criterion": "given", "scores": {}}
            return int(self.n_clusters)
        k, self.selection_ = choose_k(X, labels_for, seed=self.seed)
        return k

    def _fit_kmeans(self, X):
        def labels_for(Z, k):
            return KMeans(k, n_init=3, random_state=self.seed).fit_predict(Z)
        k = self._k(X, labels_for)
        self.model_ = KMeans(k, init=self.init, n_init=self.n_init, random_state=self.seed).fit(X)
        self.labels_ = self.model_.labels_

    def _fit_gmm(self, X):
        def model(k):
            return GaussianMixture(k, covariance_type=self.covariance_type, reg_covar=1e-4,
                                   random_state=self.seed)
        if self.n_clusters is not None:
            k, self.selection_ = int(self.n_clusters), {"criterion": "given", "scores": {}}
        else:
            sample = X if len(X) <= K_CHOICE_ROWS else X[np.random.default_rng(
                self.seed).choice(len(X), K_CHOICE_ROWS, replace=False)]
            bic = {k: float(model(k).fit(sample).bic(sample))
                   for k in range(K_RANGE[0], min(K_RANGE[1], len(sample) - 1) + 1)}
            k = min(bic, key=bic.get)
            self.selection_ = {"criterion": "bic (lower is better)", "scores": bic}
        self.model_ = model(k).fit(X)
        self.labels_ = self.model_.predict(X)

    def _fit_spectral(self, X):
        self._fit_graph(SpectralKMeans(self.n_clusters, self.n_neighbors, seed=self.seed), X)

    def _fit_umap(self, X):
        self._fit_graph(UMAPMixture(self.n_clusters, self.n_neighbors, seed=self.seed), X)

    def _fit_graph(self, model, X):
        self.model_ = model.fit(X)
        self.labels_ = self.model_.predict(X)
        self.selection_, self.fitted_rows_ = self.model_.selection_, self.model_.fitted_rows_

    def _sample(self, X) -> np.ndarray:
        if len(X) <= QUADRATIC_MAX_ROWS:
            self.fitted_rows_ = len(X)
            return X
        self.fitted_rows_ = QUADRATIC_MAX_ROWS
        return X[np.sort(np.random.default_rng(self.seed).choice(len(X), QUADRATIC_MAX_ROWS,
                                                                 replace=False))]

    def _fit_agglomerative(self, X):
        X = self._sample(X)

        def labels_for(Z, k):
            return AgglomerativeClustering(k, linkage=self.linkage).fit_predict(Z)
        k = self._k(X, labels_for)
        self.labels_ = labels_for(X, k)
        self.nearest_ = KNeighborsClassifier(1).fit(X, self.labels_)

    def _fit_dbscan(self, X):
        # eps from the data: the chosen quantile of every row's distance to its min_samples-th
        # neighbour (the "k-distance" heuristic of the DBSCAN paper), so no scale is assumed.
        k = min(self.min_samples, len(X) - 1)
        dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
        self.eps_ = float(np.quantile(dist[:, -1], self.eps_quantile)) or 1e-6
        model = DBSCAN(eps=self.eps_, min_samples=self.min_samples).fit(X)
        self.labels_ = model.labels_
        self.core_ = X[model.core_sample_indices_]
        self.core_labels_ = model.labels_[model.core_sample_indices_]
        self.core_nn_ = NearestNeighbors(n_neighbors=1).fit(self.core_) if len(self.core_) \
            else None
        self.selection_ = {"criterion": "density", "scores": {}, "eps": self.eps_}

    def _fit_hdbscan(self, X):
        X = self._sample(X)
        self.labels_ = HDBSCAN(min_cluster_size=min(self.min_cluster_size, len(X) // 2),
                               min_samples=self.min_samples).fit_predict(X)
        self.nearest_ = KNeighborsClassifier(1).fit(X, self.labels_)
        self.selection_ = {"criterion": "density", "scores": {}}


class AnomalyDetector(OutlierMixin, BaseEstimator):
    """One anomaly detector behind the task's contract (see the module's docstring)."""

    def __init__(self, method: str = "isolation_forest", contamination: float = 0.05,
                 n_estimators: int = 200, max_features: float = 1.0, n_neighbors: int = 20,
                 gamma: str = "scale", variance: float = 0.9, seed: int = 0):
        self.method, self.contamination = method, contamination
        self.n_estimators, self.max_features = n_estimators, max_features
        self.n_neighbors, self.gamma, self.variance, self.seed = (n_neighbors, gamma, variance,
                                                                  seed)

    def fit(self, X, y=None):
        X = _dense(X)
        train_scores = getattr(self, f"_fit_{self.method}")(X)
        self.threshold_ = float(np.quantile(train_scores, 1.0 - self.contamination))
        return self

    def anomaly_score(self, X) -> np.ndarray:
        X = _dense(X)
        if self.method == "pca":
            recon = self.model_.inverse_transform(self.model_.transform(X))
            return ((X - recon) ** 2).mean(axis=1)
        return -self.model_.score_samples(X)

    def predict(self, X) -> np.ndarray:
        return (self.anomaly_score(X) > self.threshold_).astype(int)

    def _fit_isolation_forest(self, X):
        self.model_ = IsolationForest(n_estimators=self.n_estimators,
                                      max_features=self.max_features, random_state=self.seed,
                                      n_jobs=1).fit(X)
        return -self.model_.score_samples(X)

    def _fit_lof(self, X):
        self.model_ = LocalOutlierFactor(n_neighbors=min(self.n_neighbors, len(X) - 1),
                                         novelty=True).fit(X)
        return -self.model_.negative_outlier_factor_

    def _fit_ocsvm(self, X):
        self.fitted_rows_ = min(len(X), OCSVM_MAX_ROWS)
        sample = X if len(X) <= OCSVM_MAX_ROWS else X[np.random.default_rng(self.seed).choice(
            len(X), OCSVM_MAX_ROWS, replace=False)]
        self.model_ = OneClassSVM(nu=max(self.contamination, 0.01), gamma=self.gamma).fit(sample)
        return -self.model_.score_samples(X)

    def _fit_pca(self, X):
        self.model_ = PCA(self.variance, svd_solver="full", random_state=self.seed).fit(X)
        return self.anomaly_score(X)


# ---- the candidates ----------------------------------------------------------------------------

def _k(ctx: BuildContext) -> int | None:
    return ctx.info.get("n_clusters")


def _contamination(ctx: BuildContext) -> float:
    return float(ctx.info.get("contamination") or 0.05)


def _pipeline(ctx: BuildContext, final) -> Pipeline:
    return Pipeline(features(ctx) + [("model", final)])


KMEANS_SPACE = {"init": Choice(("k-means++", "random"), "k-means++", grid=("k-means++", "random")),
                "n_init": Int(1, 20, default=10, log=True, grid=(3, 10))}
GMM_SPACE = {"covariance_type": Choice(("full", "diag", "tied", "spherical"), "full",
                                       grid=("full", "diag"))}
AGGLOMERATIVE_SPACE = {"linkage": Choice(("ward", "average", "complete"), "ward",
                                         grid=("ward", "average"))}
# eps at a high quantile of the k-distances: most rows are core rows of some cluster, and the
# rows farther from their neighbours than 90% of them are left as noise.
DBSCAN_SPACE = {"eps_quantile": Float(0.3, 0.98, default=0.9, grid=(0.5, 0.8, 0.9, 0.95)),
                "min_samples": Int(3, 30, default=5, log=True, grid=(5, 10))}
HDBSCAN_SPACE = {"min_cluster_size": Int(5, 100, default=10, log=True, grid=(10, 25)),
                 "min_samples": Int(2, 30, default=5, log=True, grid=(5, 10))}
SPECTRAL_SPACE = {"n_neighbors": Int(5, 50, default=SPECTRAL_NEIGHBORS, log=True,
                                    grid=(10, 20))}
UMAP_SPACE = {"n_neighbors": Int(10, 60, default=UMAP_NEIGHBORS, log=True, grid=(15, 30))}
FOREST_SPACE = {"n_estimators": Int(50, 400, default=200, log=True, grid=(100, 200)),
                "max_features": Float(0.3, 1.0, default=1.0, grid=(0.5, 1.0))}
LOF_SPACE = {"n_neighbors": Int(5, 100, default=20, log=True, grid=(10, 20, 50))}
OCSVM_SPACE = {"gamma": Choice(("scale", "auto"), "scale", grid=("scale", "auto"))}
PCA_SPACE = {"variance": Float(0.5, 0.99, default=0.9, grid=(0.8, 0.9, 0.95))}


def build_kmeans(ctx: BuildContext):
    return _pipeline(ctx, Clustering("kmeans", _k(ctx), seed=ctx.seed, **ctx.hyper(KMEANS_SPACE)))


def build_gmm(ctx: BuildContext):
    return _pipeline(ctx, Clustering("gmm", _k(ctx), seed=ctx.seed, **ctx.hyper(GMM_SPACE)))


def build_agglomerative(ctx: BuildContext):
    return _pipeline(ctx, Clustering("agglomerative", _k(ctx), seed=ctx.seed,
                                     **ctx.hyper(AGGLOMERATIVE_SPACE)))


def build_dbscan(ctx: BuildContext):
    return _pipeline(ctx, Clustering("dbscan", seed=ctx.seed, **ctx.hyper(DBSCAN_SPACE)))


def build_hdbscan(ctx: BuildContext):
    return _pipeline(ctx, Clustering("hdbscan", seed=ctx.seed, **ctx.hyper(HDBSCAN_SPACE)))


def build_spectral(ctx: BuildContext):
    return _pipeline(ctx, Clustering("spectral", _k(ctx), seed=ctx.seed,
                                     **ctx.hyper(SPECTRAL_SPACE)))


def build_umap(ctx: BuildContext):
    return _pipeline(ctx, Clustering("umap", _k(ctx), seed=ctx.seed, **ctx.hyper(UMAP_SPACE)))


def build_isolation_forest(ctx: BuildContext):
    return _pipeline(ctx, AnomalyDetector("isolation_forest", _contamination(ctx), seed=ctx.seed,
                                          **ctx.hyper(FOREST_SPACE)))


def build_lof(ctx: BuildContext):
    return _pipeline(ctx, AnomalyDetector("lof", _contamination(ctx), seed=ctx.seed,
                                          **ctx.hyper(LOF_SPACE)))


def build_ocsvm(ctx: BuildContext):
    return _pipeline(ctx, AnomalyDetector("ocsvm", _contamination(ctx), seed=ctx.seed,
                                          **ctx.hyper(OCSVM_SPACE)))


def build_pca(ctx: BuildContext):
    return _pipeline(ctx, AnomalyDetector("pca", _contamination(ctx), seed=ctx.seed,
                                          **ctx.hyper(PCA_SPACE)))


def _sample_rule(limit: int, fitted: str, rest: str, ctx: BuildContext) -> dict:
    """The note a model records when it fits a random sample of ``limit`` training rows (a
    module-level function under ``partial``: candidates travel to their processes pickled)."""
    if ctx.n_train <= limit:
        return {}
    return {"sample_rule": f"{fitted} a random sample of {limit:,} of the {ctx.n_train:,} "
                           f"training rows{rest}"}


quadratic_notes = partial(_sample_rule, QUADRATIC_MAX_ROWS, "fits",
                          " (its cost grows with their square); the rest are labelled by their "
                          "nearest fitted row")
spectral_notes = partial(_sample_rule, SPECTRAL_MAX_ROWS, "embeds",
                         " (its graph's eigenvectors); the rest are labelled by their "
                         f"{SPECTRAL_NEIGHBORS} nearest embedded rows")
umap_notes = partial(_sample_rule, UMAP_MAX_ROWS, "embeds",
                     "; the rest are labelled by their nearest embedded rows")
ocsvm_notes = partial(_sample_rule, OCSVM_MAX_ROWS, "fits", " (exact kernel SVM)")


def _register(name, build, tasks, description, space, **extra) -> None:
    register(Candidate(name=name, family="traditional", tasks=tasks, build=build,
                       description=description, modalities=ALL_MODALITIES,
                       preprocessing=FEATURES, space=space, **extra))


_register("kmeans", build_kmeans, CLUSTERING,
          "k-means (k by silhouette over 2-10 unless --clusters)", KMEANS_SPACE)
_register("gaussian_mixture", build_gmm, CLUSTERING,
          "Gaussian mixture (k by BIC over 2-10 unless --clusters)", GMM_SPACE)
_register("agglomerative", build_agglomerative, CLUSTERING,
          "agglomerative clustering, Ward linkage (k by silhouette)", AGGLOMERATIVE_SPACE,
          notes=quadratic_notes, growth=2.0)
_register("dbscan", build_dbscan, CLUSTERING,
          "DBSCAN, eps from the k-distance quantile", DBSCAN_SPACE)
_register("hdbscan", build_hdbscan, CLUSTERING, "HDBSCAN", HDBSCAN_SPACE,
          notes=quadratic_notes, growth=2.0)
_register("spectral", build_spectral, CLUSTERING,
          "spectral clustering: a nearest-neighbour graph's eigenvectors, then k-means "
          "(k by silhouette unless --clusters)", SPECTRAL_SPACE, notes=spectral_notes,
          growth=1.5)
_register("umap", build_umap, CLUSTERING,
          "UMAP of the rows' neighbour graph, then a Gaussian mixture (N2D's clustering without "
          "the autoencoder; k by silhouette unless --clusters)", UMAP_SPACE, notes=umap_notes,
          growth=1.2)
_register("isolation_forest", build_isolation_forest, ANOMALY, "isolation forest",
          FOREST_SPACE)
_register("local_outlier_factor", build_lof, ANOMALY, "local outlier factor", LOF_SPACE)
_register("one_class_svm", build_ocsvm, ANOMALY, "one-class SVM (RBF kernel)", OCSVM_SPACE,
          notes=ocsvm_notes, growth=2.0)
_register("pca_reconstruction", build_pca, ANOMALY,
          "PCA reconstruction error (components for 90% of the variance)", PCA_SPACE)
