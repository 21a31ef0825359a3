"""Traditional clustering and anomaly-detection candidates (scikit-learn), for every modality.

Each is a Pipeline: the rows' features (tables: the linear models' encoding; images, series and
spectrograms: their values flattened, standardised and, above 50 values, reduced by PCA) and a
final step with one contract for its task:

* clustering: ``fit(X)``, ``predict(X)`` -> cluster ids (``-1``: noise, for density methods).
  Methods without a ``predict`` of their own (agglomerative, DBSCAN, HDBSCAN) label a new row by
  its nearest training row, the usual inductive extension (DBSCAN: a core row within ``eps``).
* anomaly: ``fit(X)``, ``anomaly_score(X)`` (higher: more anomalous) and ``predict(X)`` -> 1
  for the rows whose score is above the training rows' ``1 - contamination`` quantile.

The number of clusters is the user's (``--clusters``) or chosen by each model over
:data:`K_RANGE`: the silhouette for k-means and Ward, the BIC for the Gaussian mixture, the
the silhouette of the spectral clustering's labels likewise.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, OutlierMixin, TransformerMixin
from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.ensemble import IsolationForest
from sklearn.manifold import spectral_embedding
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import (KNeighborsClassifier, LocalOutlierFactor, NearestNeighbors,
                               kneighbors_graph)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer
from sklearn.svm import OneClassSVM

from nnvsml.models.preprocessing import encoder
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.space import Choice, Float, Int

CLUSTERING = frozenset({"clustering"})
ANOMALY = frozenset({"anomaly"})
ALL_MODALITIES = frozenset({"tabular", "image", "sequence", "audio", "text"})
#: The numbers of clusters a model chooses from when the user does not say.
K_RANGE = (2, 10)
#: Rows the choice of k is made on at most (each k is a fit), and rows the silhouette of each
#: choice is computed on (its cost grows with the square of the rows).
K_CHOICE_ROWS = 5_000
K_SILHOUETTE_ROWS = 2_000
#: Ward's and HDBSCAN's memory and time grow with the square of the rows: above this they fit a
#: stated random sample and label the rest by their nearest fitted row.
QUADRATIC_MAX_ROWS = 5_000
#: A spectral embedding's nearest-neighbour graph and eigenvectors grow faster than the rows:
#: above this it embeds a stated random sample and labels the rest by their nearest embedded rows.
SPECTRAL_MAX_ROWS = 10_000
#: Neighbours of a row in the spectral embedding's graph, and votes when a new row is labelled.
SPECTRAL_NEIGHBORS = 10
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


def _dense(X) -> np.ndarray:
    return np.asarray(X, dtype=np.float64)


def choose_k(X, labels_for, k_range=K_RANGE, seed: int = 0) -> tuple[int, dict]:
    """The k in ``k_range`` whose clustering (``labels_for(X, k)``) has the best silhouette,
    on a seeded sample of the rows; the scores of every k."""
    rng = np.random.default_rng(seed)
    X = _dense(X)
    if len(X) > K_CHOICE_ROWS:
        X = X[rng.choice(len(X), K_CHOICE_ROWS, replace=False)]
    scored = {}
    for k in range(k_range[0], min(k_range[1], len(X) - 1) + 1):
        labels = labels_for(X, k)
        if len(np.unique(labels)) < 2:
            continue
        rows = (rng.choice(len(X), K_SILHOUETTE_ROWS, replace=False)
                if len(X) > K_SILHOUETTE_ROWS else np.arange(len(X)))
        scored[k] = float(silhouette_score(X[rows], labels[rows]))
    best = max(scored, key=scored.get) if scored else k_range[0]
    return best, {"criterion": "silhouette", "scores": scored}


class SpectralKMeans(ClusterMixin, BaseEstimator):
    """Spectral clustering: the rows' nearest-neighbour graph embedded by its Laplacian's
    eigenvectors (one per cluster), clustered there by k-means, as scikit-learn's
    SpectralClustering does. (N2D, McConville et al., 2019, puts a Gaussian mixture on a UMAP;
    on this embedding a mixture collapsed: NMI 0.08 on 8x8 digits with 25 neighbours, k-means
    0.80.) A new row takes the majority label of its ``n_neighbors`` nearest fitted rows (the
    embedding has no out-of-sample map)."""

    def __init__(self, n_clusters: int | None = None, n_neighbors: int = SPECTRAL_NEIGHBORS,
                 seed: int = 0):
        self.n_clusters, self.n_neighbors, self.seed = n_clusters, n_neighbors, seed

    def fit(self, X, y=None):
        X = _dense(X)
        self.fitted_rows_ = min(len(X), SPECTRAL_MAX_ROWS)
        if len(X) > SPECTRAL_MAX_ROWS:
            X = X[np.sort(np.random.default_rng(self.seed).choice(len(X), SPECTRAL_MAX_ROWS,
                                                                  replace=False))]
        neighbors = max(2, min(self.n_neighbors, len(X) - 1))
        dims = int(self.n_clusters) if self.n_clusters is not None else K_RANGE[1]
        embeddings: dict[int, np.ndarray] = {}

        def labels_for(Z, k):
            # One embedding per set of rows (choose_k may pass a sample), its first k vectors
            # for k clusters.
            if id(Z) not in embeddings:
                embeddings[id(Z)] = self._embed(Z, dims, neighbors)
            return KMeans(k, n_init=10, random_state=self.seed).fit_predict(
                embeddings[id(Z)][:, :k])
        if self.n_clusters is not None:
            k, self.selection_ = int(self.n_clusters), {"criterion": "given", "scores": {}}
        else:
            # Judged in the rows' own space, as the other methods' k: a silhouette inside
            # the embedding grows with k (its ten vectors split into ever more groups).
            k, self.selection_ = choose_k(X, labels_for, seed=self.seed)
        self.labels_ = labels_for(X, k)
        self.nearest_ = KNeighborsClassifier(neighbors).fit(X, self.labels_)
        return self

    def _embed(self, X, dims: int, neighbors: int) -> np.ndarray:
        """The eigenvectors as scikit-learn's SpectralClustering takes them: the symmetrised
        k-nearest-neighbour graph, the first vector kept (for a graph in pieces, the pieces'
        indicators are the first vectors, and dropping one merges two pieces)."""
        graph = kneighbors_graph(X, neighbors, include_self=True)
        # A graph in pieces warns; its embedding is still the Laplacian's.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return spectral_embedding(0.5 * (graph + graph.T), n_components=min(dims, len(X) - 2),
                                      drop_first=False, random_state=self.seed)

    def predict(self, X) -> np.ndarray:
        return self.nearest_.predict(_dense(X)).astype(int)


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
        if self.method in ("kmeans", "gmm", "spectral"):
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
        self.model_ = SpectralKMeans(self.n_clusters, self.n_neighbors, seed=self.seed).fit(X)
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


def quadratic_notes(ctx: BuildContext) -> dict:
    if ctx.n_train <= QUADRATIC_MAX_ROWS:
        return {}
    return {"sample_rule": f"fits a random sample of {QUADRATIC_MAX_ROWS:,} of the "
                           f"{ctx.n_train:,} training rows (its cost grows with their square); "
                           "the rest are labelled by their nearest fitted row"}


def spectral_notes(ctx: BuildContext) -> dict:
    if ctx.n_train <= SPECTRAL_MAX_ROWS:
        return {}
    return {"sample_rule": f"embeds a random sample of {SPECTRAL_MAX_ROWS:,} of the "
                           f"{ctx.n_train:,} training rows (its graph's eigenvectors); the rest "
                           f"are labelled by their {SPECTRAL_NEIGHBORS} nearest embedded rows"}


def ocsvm_notes(ctx: BuildContext) -> dict:
    if ctx.n_train <= OCSVM_MAX_ROWS:
        return {}
    return {"sample_rule": f"fits a random sample of {OCSVM_MAX_ROWS:,} of the "
                           f"{ctx.n_train:,} training rows (exact kernel SVM)"}


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
_register("isolation_forest", build_isolation_forest, ANOMALY, "isolation forest",
          FOREST_SPACE)
_register("local_outlier_factor", build_lof, ANOMALY, "local outlier factor", LOF_SPACE)
_register("one_class_svm", build_ocsvm, ANOMALY, "one-class SVM (RBF kernel)", OCSVM_SPACE,
          notes=ocsvm_notes, growth=2.0)
_register("pca_reconstruction", build_pca, ANOMALY,
          "PCA reconstruction error (components for 90% of the variance)", PCA_SPACE)
