"""The common space every clustering is judged in.

Silhouette, Davies-Bouldin and Calinski-Harabasz measure distances, so their value depends on
the space the rows are in. A model judged in its own embedding (an autoencoder's codes, a
PCA's components) would be judged by a ruler it chose: every model is judged in the same space
instead, made from the training rows only and recorded in the results. Tables: the linear
models' encoding (standardised numbers with missing-value flags, one-hot categories); images,
series and spectrograms: their values flattened and standardised. Above :data:`MAX_DIMS`
dimensions, a PCA fitted on the training rows keeps the first :data:`MAX_DIMS` components.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from nnvsml.data.dataset import Dataset, take

MAX_DIMS = 50


def common_space(dataset: Dataset, train_idx: np.ndarray, seed: int = 0
                 ) -> tuple[np.ndarray, str, list[str] | None]:
    """Every row of ``dataset`` in the common space (float32, rows x dims), what it is, and the
    name of each dimension where it is an encoded column (a table not reduced by PCA)."""
    names = None
    if dataset.modality == "tabular":
        from nnvsml.models.preprocessing import encoder

        enc = encoder("linear", dataset.kinds(), task="clustering", seed=seed)
        enc.fit(take(dataset.X, train_idx))
        encoded = enc.transform(dataset.X)
        names = [str(c).split("__", 1)[-1] for c in encoded.columns]
        values = np.asarray(encoded, dtype=float)
        what = "the linear models' encoding of the columns"
    elif dataset.modality == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        from sklearn.decomposition import TruncatedSVD
        from sklearn.preprocessing import normalize

        tfidf = TfidfVectorizer(max_features=20_000, sublinear_tf=True).fit(
            take(dataset.X, train_idx))
        words = tfidf.transform(dataset.X)
        svd = TruncatedSVD(min(MAX_DIMS, words.shape[1] - 1), random_state=seed).fit(
            words[train_idx])
        values = normalize(svd.transform(words))
        what = f"TF-IDF of the words, LSA to {svd.n_components} dimensions, unit length"
    else:
        values = np.nan_to_num(np.asarray(dataset.X, dtype=float).reshape(len(dataset.X), -1))
        # One scale for every value: pixels (a series' values) are commensurate, and scaling
        # each position apart would blow up the noise of near-constant ones.
        train = values[train_idx]
        values = (values - train.mean()) / (train.std() or 1.0)
        what = f"the {dataset.modality} values, flattened on one scale"
    values = np.nan_to_num(values)
    if values.shape[1] > MAX_DIMS:
        names = None
        pca = PCA(MAX_DIMS, random_state=seed).fit(values[train_idx])
        values = pca.transform(values)
        what += (f", reduced by PCA to {MAX_DIMS} components "
                 f"({pca.explained_variance_ratio_.sum():.0%} of the variance)")
    return values.astype(np.float32), what, names
