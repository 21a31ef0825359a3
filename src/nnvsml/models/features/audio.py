"""Audio features for traditional models: MFCC statistics over a clip.

Input is nnvsml's audio layout, float32 log-mel spectrograms ``(n, n_mels, frames)`` (natural
log of mel power + 1e-10), shorter clips padded at the end with the floor ``log(1e-10)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import dct
from sklearn.base import BaseEstimator, TransformerMixin

from nnvsml.errors import InputError

#: The value of silence and of padding: ln(1e-10), what nnvsml's audio reader floors at.
LOG_MEL_FLOOR = math.log(1e-10)


class MFCCStats(TransformerMixin, BaseEstimator):
    """Mean and standard deviation over a clip's frames of its MFCCs and, with ``deltas``, of
    their frame-to-frame differences: ``(n, 4 * n_mfcc)`` (``2 * n_mfcc`` without deltas).

    The MFCCs are the orthonormal DCT-II of the log-mel spectrum over the mel axis, the first
    ``n_mfcc`` kept (the usual definition, as librosa's). Statistics use the clip's own frames
    only: a frame whose every mel bin is at the ``floor`` is padding (or digital silence, which
    says nothing either), so a short clip padded to a long batch keeps its features.
    """

    def __init__(self, n_mfcc: int = 20, deltas: bool = True, floor: float = LOG_MEL_FLOOR):
        self.n_mfcc = n_mfcc
        self.deltas = deltas
        self.floor = floor

    def fit(self, X, y=None):
        X = self._check(X)
        self.n_mels_ = X.shape[1]
        self.n_mfcc_ = min(int(self.n_mfcc), self.n_mels_)
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        groups = ["mfcc_mean", "mfcc_std"] + (["delta_mean", "delta_std"] if self.deltas else [])
        return np.asarray([f"{g}{i}" for g in groups for i in range(self.n_mfcc_)], dtype=object)

    def transform(self, X):
        X = self._check(X)
        if X.shape[1] != self.n_mels_:
            raise InputError(
                f"spectrograms with {X.shape[1]} mel bins differ from the {self.n_mels_} the "
                "model was trained on"
            )
        valid = (X > self.floor + 1e-3).any(axis=1)  # (n, frames)
        # A clip that is silent throughout keeps all its frames rather than none.
        valid[~valid.any(axis=1)] = True
        mfcc = dct(X.astype(np.float64), type=2, axis=1, norm="ortho")[:, :self.n_mfcc_]
        parts = list(_masked_mean_std(mfcc, valid))
        if self.deltas:
            pairs = valid[:, 1:] & valid[:, :-1]
            parts += _masked_mean_std(np.diff(mfcc, axis=2), pairs)
        return np.concatenate(parts, axis=1).astype(np.float32)

    @staticmethod
    def _check(X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 3:
            raise InputError(
                f"audio must be log-mel spectrograms (n, n_mels, frames), got shape {X.shape}; "
                "load it with nnvsml's audio reader"
            )
        return X


def _masked_mean_std(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over the last axis of ``values`` (n, k, t) where ``mask`` (n, t) holds;
    zeros where nothing does (a one-frame clip has no deltas)."""
    m = mask[:, None, :]
    count = np.maximum(mask.sum(axis=1), 1)[:, None]
    mean = np.where(m, values, 0.0).sum(axis=2) / count
    var = (np.where(m, values - mean[..., None], 0.0) ** 2).sum(axis=2) / count
    return mean, np.sqrt(var)
