"""Explaining an input cut into parts: pixel blocks of an image, time segments of a series,
patches of a spectrogram.

Kernel SHAP and LIME both ask what the model says when some parts are removed. A removed part
of a series or a spectrogram takes the *reference* there: the mean training input at each
position (the average series, the average spectrogram), so removing a part asks "what if this
stretch were ordinary?". Zero is no neutral value for a raw series, and neither is silence for
a spectrogram. Padding (NaN after the end of a short series) stays padding. A removed pixel
block is black, as in the image explainers' usual convention.
"""

from __future__ import annotations

import warnings

import numpy as np

#: Time segments of a series (fewer when the series is shorter).
SEGMENTS = 20
#: A spectrogram's patches: mel bands x time segments.
PATCH_BANDS, PATCH_SEGMENTS = 4, 8
#: Perturbed copies LIME scores per explained input.
LIME_SAMPLES = 300
#: LIME's kernel width on the cosine distance x 100 between coalitions (LimeTextExplainer's).
LIME_KERNEL_WIDTH = 25.0


class Parts:
    """A partition of one input's positions into parts.

    ``masks`` is bool ``(parts, *shape)``, True where the part lies; ``names`` says where each
    part is ("steps 0-4", "mel 0-9, frames 0-15"); ``layout`` is ``series`` or ``grid``.
    """

    def __init__(self, masks: np.ndarray, names: list[str], layout: str) -> None:
        self.masks, self.names, self.layout = masks, names, layout
        self._flat = masks.reshape(len(masks), -1).astype(np.float32)

    def __len__(self) -> int:
        return len(self.masks)

    @classmethod
    def time_segments(cls, shape: tuple[int, ...], segments: int = SEGMENTS) -> "Parts":
        """Equal stretches of time over every channel of a ``(channels, length)`` series."""
        channels, length = shape
        edges = np.linspace(0, length, min(segments, length) + 1).round().astype(int)
        masks, names = [], []
        for a, b in zip(edges[:-1], edges[1:]):
            m = np.zeros(shape, dtype=bool)
            m[:, a:b] = True
            masks.append(m)
            names.append(f"steps {a}-{b - 1}")
        return cls(np.stack(masks), names, "series")

    @classmethod
    def grid(cls, shape: tuple[int, ...], rows: int, cols: int, row_name: str,
             col_name: str) -> "Parts":
        """A ``rows`` x ``cols`` grid over the first two axes (a spectrogram's mel bands and
        frames, an image's rows and columns)."""
        h, w = shape[:2]
        r_edges = np.linspace(0, h, min(rows, h) + 1).round().astype(int)
        c_edges = np.linspace(0, w, min(cols, w) + 1).round().astype(int)
        masks, names = [], []
        for r0, r1 in zip(r_edges[:-1], r_edges[1:]):
            for c0, c1 in zip(c_edges[:-1], c_edges[1:]):
                m = np.zeros(shape, dtype=bool)
                m[r0:r1, c0:c1] = True
                masks.append(m)
                names.append(f"{row_name} {r0}-{r1 - 1}, {col_name} {c0}-{c1 - 1}")
        return cls(np.stack(masks), names, "grid")

    @classmethod
    def spectrogram(cls, shape: tuple[int, ...]) -> "Parts":
        return cls.grid(shape, PATCH_BANDS, PATCH_SEGMENTS, "mel", "frames")

    def reference(self, X_train: np.ndarray) -> np.ndarray:
        """The mean training input at each position; a position no training input reaches
        takes its channel's mean."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN position
            ref = np.nanmean(np.asarray(X_train, dtype=np.float64), axis=0)
            fill = np.nanmean(ref, axis=tuple(range(1, ref.ndim)), keepdims=True)
        ref = np.where(np.isnan(ref), fill, ref)
        return np.nan_to_num(ref).astype(np.float32)

    def apply(self, x: np.ndarray, coalitions: np.ndarray, reference: np.ndarray | float
              ) -> np.ndarray:
        """Copies of ``x``, one per coalition (0/1 per part: kept or not), with the parts not
        kept set to the reference."""
        removed = ((1 - np.asarray(coalitions, dtype=np.float32)) @ self._flat) > 0
        removed = removed.reshape((len(removed),) + x.shape)
        ref = np.broadcast_to(np.asarray(reference, dtype=x.dtype), x.shape)
        if np.issubdtype(x.dtype, np.floating):
            removed &= ~np.isnan(x)[None]  # padding stays padding
        return np.where(removed, ref[None], x[None]).astype(x.dtype, copy=False)

    def spread(self, values: np.ndarray) -> np.ndarray:
        """Per-part values onto the input's positions (each position gets its part's value
        divided by the part's size), summed over the channels of a series: ``(length,)`` for a
        series, ``(h, w)`` for a grid."""
        sizes = self._flat.sum(axis=1)
        dense = (np.asarray(values, dtype=float) / np.maximum(sizes, 1)) @ self._flat
        dense = dense.reshape(self.masks.shape[1:])
        return dense.sum(axis=0) if self.layout == "series" else dense


def kernel_samples(n_features: int) -> int:
    """Coalitions Kernel SHAP evaluates per explained row: shap's default (2F + 2048) is for
    exact-looking values on wide inputs; 8F + 64 keeps the ranking stable at a fraction."""
    return min(2 * n_features + 2048, 8 * n_features + 64)


def kernel_over_parts(predict_masked, n_parts: int, seed: int) -> np.ndarray:
    """Kernel SHAP of one input split into ``n_parts`` parts: a coalition is a 0/1 vector
    saying which parts are kept, ``predict_masked(coalitions)`` scores the input with only
    those parts; the reference is the input with every part removed. Returns ``(parts,)`` or
    ``(parts, outputs)`` values."""
    import shap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.KernelExplainer(predict_masked, np.zeros((1, n_parts)), seed=seed)
        values = explainer.shap_values(np.ones((1, n_parts)), nsamples=kernel_samples(n_parts),
                                       silent=True)
    v = np.asarray(values if not isinstance(values, list) else np.stack(values, -1), dtype=float)
    return v[0]


def lime_over_parts(predict_masked, n_parts: int, label: int, seed: int,
                    samples: int = LIME_SAMPLES, features: int = 8) -> tuple[dict[int, float], float]:
    """LIME on one input split into parts, sampled as LimeTextExplainer samples words: a random
    number of parts removed, which ones at random, weighted by closeness to the whole input.
    Returns the local linear model's weight per part (the ``features`` strongest) and its
    R^2 on the samples."""
    from lime.lime_base import LimeBase
    from sklearn.metrics import pairwise_distances

    rng = np.random.RandomState(seed)
    data = np.ones((samples, n_parts))
    for row, k in zip(data[1:], rng.randint(1, n_parts + 1, samples - 1)):
        row[rng.choice(n_parts, k, replace=False)] = 0
    labels = np.asarray(predict_masked(data), dtype=float)
    distances = pairwise_distances(data, data[:1], metric="cosine").ravel() * 100
    base = LimeBase(lambda d: np.sqrt(np.exp(-(d ** 2) / LIME_KERNEL_WIDTH ** 2)),
                    random_state=rng)
    _, weights, score, _ = base.explain_instance_with_data(
        data, labels, distances, label, min(features, n_parts))
    return {int(j): float(w) for j, w in weights}, float(score)
