"""How a clustering chooses its k, and the clusterings of the rows' neighbour graph.

Both families use these: the traditional candidates on the rows' features, the networks on
their autoencoder's codes (so the comparison shows what the codes buy, not a better clusterer).

* :func:`choose_k`: the k in 2-10 whose clustering has the best silhouette.
* :class:`SpectralKMeans`: the graph's Laplacian eigenvectors, then k-means (Shi & Malik, 2000;
  Ng, Jordan & Weiss, 2002), as scikit-learn's SpectralClustering.
* :class:`UMAPMixture`: the graph's UMAP embedding (McInnes, Healy & Melville, 2018), then a
  Gaussian mixture: N2D's recipe (McConville et al., 2019, "N2D: (Not Too) Deep Clustering via
  Clustering the Local Manifold of an Autoencoded Embedding").

Neither embedding maps new rows, so a new row takes the majority label of its nearest fitted
rows; above a stated size they embed a random sample and label the rest the same way.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.manifold import spectral_embedding
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors, kneighbors_graph

#: The numbers of clusters a model chooses from when the user does not say.
K_RANGE = (2, 10)
#: Rows the choice of k is made on at most (each k is a fit), and rows the silhouette of each
#: choice is computed on (its cost grows with the square of the rows).
K_CHOICE_ROWS = 5_000
K_SILHOUETTE_ROWS = 2_000
#: A spectral embedding's nearest-neighbour graph and eigenvectors grow faster than the rows:
#: above this it embeds a stated random sample and labels the rest by their nearest embedded rows.
SPECTRAL_MAX_ROWS = 10_000
#: Neighbours of a row in the spectral embedding's graph, and votes when a new row is labelled.
SPECTRAL_NEIGHBORS = 10
#: UMAP's layout is optimised for every row: above this, a stated random sample.
UMAP_MAX_ROWS = 20_000
#: Seconds a layout and its mixture take per row (about 13 s on 6,400 MNIST codes on 2 cores,
#: with room for a busy machine): what a network reserves of its time for this step.
UMAP_SECONDS_PER_ROW = 2.5e-3
#: Neighbours of a row in UMAP's graph: more than a spectral graph's, as N2D's 20 for MNIST
#: (on 6,400 MNIST images 30 found the digits best of 10, 20 and 30: BENCHMARKS.md).
UMAP_NEIGHBORS = 30


def dense(X) -> np.ndarray:
    return np.asarray(X, dtype=np.float64)


def choose_k(X, labels_for, k_range=K_RANGE, seed: int = 0) -> tuple[int, dict]:
    """The k in ``k_range`` whose clustering (``labels_for(X, k)``) has the best silhouette,
    on a seeded sample of the rows; the scores of every k."""
    rng = np.random.default_rng(seed)
    X = dense(X)
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


class _GraphClustering(ClusterMixin, BaseEstimator):
    """Embed the rows' neighbour graph (``_embed``), cluster the embedding (``_cluster``); k
    given, or chosen by the silhouette in the rows' own space (a silhouette inside an embedding
    made to separate groups grows with k)."""

    max_rows = SPECTRAL_MAX_ROWS

    def fit(self, X, y=None):
        X = dense(X)
        self.fitted_rows_ = min(len(X), self.max_rows)
        if len(X) > self.max_rows:
            X = X[np.sort(np.random.default_rng(self.seed).choice(len(X), self.max_rows,
                                                                  replace=False))]
        neighbors = max(2, min(self.n_neighbors, len(X) - 1))
        dims = int(self.n_clusters) if self.n_clusters is not None else K_RANGE[1]
        embeddings: dict[int, np.ndarray] = {}

        def labels_for(Z, k):
            # One embedding per set of rows (choose_k may pass a sample).
            if id(Z) not in embeddings:
                embeddings[id(Z)] = self._embed(Z, min(dims, len(Z) - 2), neighbors)
            return self._cluster(embeddings[id(Z)], k)
        if self.n_clusters is not None:
            k, self.selection_ = int(self.n_clusters), {"criterion": "given", "scores": {}}
        else:
            k, self.selection_ = choose_k(X, labels_for, seed=self.seed)
        self.labels_ = labels_for(X, k)
        self.nearest_ = KNeighborsClassifier(neighbors).fit(X, self.labels_)
        return self

    def predict(self, X) -> np.ndarray:
        return self.nearest_.predict(dense(X)).astype(int)


class SpectralKMeans(_GraphClustering):
    """Spectral clustering: the symmetrised k-nearest-neighbour graph's Laplacian eigenvectors,
    the first one kept (for a graph in pieces the pieces' indicators are the first vectors, and
    dropping one merges two pieces), then k-means on the first k of them."""

    def __init__(self, n_clusters: int | None = None, n_neighbors: int = SPECTRAL_NEIGHBORS,
                 seed: int = 0):
        self.n_clusters, self.n_neighbors, self.seed = n_clusters, n_neighbors, seed

    def _embed(self, X, dims: int, neighbors: int) -> np.ndarray:
        graph = kneighbors_graph(X, neighbors, include_self=True)
        with warnings.catch_warnings():  # a graph in pieces warns; its embedding stands
            warnings.simplefilter("ignore")
            return spectral_embedding(0.5 * (graph + graph.T), n_components=dims,
                                      drop_first=False, random_state=self.seed)

    def _cluster(self, embedding: np.ndarray, k: int) -> np.ndarray:
        return KMeans(k, n_init=10, random_state=self.seed).fit_predict(embedding[:, :k])


class UMAPMixture(_GraphClustering):
    """N2D's clustering: UMAP of the rows to ``n_clusters`` dimensions (10 when k is to be
    chosen) with ``min_dist=0`` (rows of a group packed together), then a Gaussian mixture.
    The neighbours are found exactly by scikit-learn (UMAP's approximate search compiles for
    half a minute in every process, and is only faster above tens of thousands of rows)."""

    max_rows = UMAP_MAX_ROWS

    def __init__(self, n_clusters: int | None = None, n_neighbors: int = UMAP_NEIGHBORS,
                 seed: int = 0):
        self.n_clusters, self.n_neighbors, self.seed = n_clusters, n_neighbors, seed

    def _embed(self, X, dims: int, neighbors: int) -> np.ndarray:
        import umap  # numba-compiled: imported by the models that use it, not by every run

        distances, indices = NearestNeighbors(n_neighbors=neighbors).fit(X).kneighbors(X)
        with warnings.catch_warnings():  # "transform needs the search index": none is used
            warnings.simplefilter("ignore")
            return umap.UMAP(n_components=max(1, dims), n_neighbors=neighbors, min_dist=0.0,
                             random_state=self.seed, n_jobs=1,
                             precomputed_knn=(indices, distances, None)).fit(X).embedding_

    @staticmethod
    def expected_seconds(n_rows: int) -> float:
        """About how long a fit on ``n_rows`` takes (its layout and mixture)."""
        return min(n_rows, UMAP_MAX_ROWS) * UMAP_SECONDS_PER_ROW

    def _cluster(self, embedding: np.ndarray, k: int) -> np.ndarray:
        # Five starts: on a tight embedding one mixture start can merge two groups.
        return GaussianMixture(k, n_init=5, reg_covar=1e-4,
                               random_state=self.seed).fit_predict(embedding)
