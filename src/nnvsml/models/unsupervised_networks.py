"""The networks' clustering and anomaly-detection candidates: autoencoders for every modality
(:mod:`nnvsml.models.neural.autoencoder_estimator`), with the traditional candidates' input
encoding for tables so that both families start from the same numbers."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from nnvsml.models.preprocessing import encoder
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.space import Choice, Float
from nnvsml.models.unsupervised import ALL_MODALITIES, ANOMALY, CLUSTERING

AUTOENCODER_SPACE = {
    "lr": Float(1e-4, 1e-2, default=1e-3, log=True, grid=(3e-4, 1e-3, 3e-3)),
    "code_size": Choice((4, 8, 16, 32), 8, grid=(8, 16)),
    "weight_decay": Float(1e-7, 1e-3, default=1e-5, log=True, grid=(1e-5, 1e-4)),
}
#: Clustering reads the codes themselves: 16 numbers kept MNIST's digits apart where 8 merged
#: them (AE + UMAP + mixture on 6,400 images, 150 s of training: cluster accuracy 0.81-0.92 over
#: three seeds against 0.76 with 8; BENCHMARKS.md). Tables get at most half their width.
CLUSTERING_SPACE = {**AUTOENCODER_SPACE,
                    "code_size": Choice((8, 16, 32), 16, grid=(16, 32))}
PREPROCESSING = ("tables: the linear models' encoding; images, series, spectrograms: values "
                 "standardised by one mean and scale; texts: TF-IDF of the 2,000 most frequent "
                 "words")
#: A text's bag of words is the network's input: the most frequent words, dense.
TEXT_WORDS = 2_000


def dense(X):
    """A sparse matrix as a dense array (a module-level function: the pipeline is saved)."""
    return X.toarray() if hasattr(X, "toarray") else X


#: N2D's autoencoder (McConville et al., 2019, after DEC's): dense, these hidden widths, no
#: dropout, batches of 256, on any input flattened. On 6,400 MNIST images and 100 s of training
#: its codes gave UMAP + mixture a cluster accuracy of 0.93 (0.80 from one UMAP seed in three,
#: which merges two digits) where the small convolutional autoencoder's gave 0.79-0.81
#: (BENCHMARKS.md).
N2D = {"layers": (500, 500, 2000), "dropout": 0.0, "batch_size": 256}


def _build(ctx: BuildContext, task: str, refine: str = "none", **network):
    from nnvsml.models.neural.autoencoder_estimator import Autoencoder

    # A text's TF-IDF is a row of numbers like an encoded table's: the dense autoencoder.
    modality = "tabular" if ctx.modality == "text" else ctx.modality
    net = Autoencoder(task=task, modality=modality, max_time=ctx.max_time,
                      n_clusters=ctx.info.get("n_clusters"), refine=refine,
                      contamination=float(ctx.info.get("contamination") or 0.05),
                      seed=ctx.seed, **network,
                      **ctx.hyper(CLUSTERING_SPACE if task == "clustering" else AUTOENCODER_SPACE))
    if ctx.modality == "tabular":
        steps = encoder("linear", ctx.kinds, task=ctx.task, seed=ctx.seed).steps
    elif ctx.modality == "text":
        steps = [("tfidf", TfidfVectorizer(max_features=TEXT_WORDS, sublinear_tf=True)),
                 ("dense", FunctionTransformer(dense, accept_sparse=True))]
    else:
        steps = []
    return Pipeline(steps + [("model", net)])


def build_autoencoder(ctx: BuildContext):
    return _build(ctx, "anomaly")


def build_autoencoder_kmeans(ctx: BuildContext):
    return _build(ctx, "clustering")


def build_deep_clustering(ctx: BuildContext):
    return _build(ctx, "clustering", refine="dec")


def build_autoencoder_umap(ctx: BuildContext):
    return _build(ctx, "clustering", refine="manifold", **N2D)


def _register(name, build, tasks, description) -> None:
    register(Candidate(name=name, family="neural", tasks=tasks, build=build,
                       description=description, modalities=ALL_MODALITIES,
                       preprocessing=PREPROCESSING, time_aware=True,
                       space=CLUSTERING_SPACE if tasks == CLUSTERING else AUTOENCODER_SPACE))


_register("autoencoder", build_autoencoder, ANOMALY,
          "autoencoder (dense / convolutional by modality), anomaly score = reconstruction error")
_register("autoencoder_kmeans", build_autoencoder_kmeans, CLUSTERING,
          "autoencoder, then k-means on its codes (k by silhouette unless --clusters)")
_register("deep_clustering", build_deep_clustering, CLUSTERING,
          "autoencoder + k-means refined by deep embedded clustering (IDEC)")
_register("autoencoder_umap", build_autoencoder_umap, CLUSTERING,
          "N2D: a dense autoencoder (500-500-2000), then UMAP of its codes and a "
          "Gaussian mixture")
