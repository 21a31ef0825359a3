"""scikit-learn estimators that train the networks for images, text, sequences and audio.

The input is the Dataset's array for the modality (see :data:`nnvsml.data.dataset.MODALITIES`),
or token ids from :class:`.tokenizer.Tokenizer` for text. It becomes one tensor per ``fit`` or
``predict`` call, in its own dtype: an image set stays uint8 (a quarter of float32's memory) and
is scaled to float per batch inside the module, so no epoch copies the data. Standardisation
statistics are learned from the rows given to ``fit``; image augmentation runs per batch in
training mode only. The training protocol is :class:`.base.SkorchNet`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data
from torch import nn

from nnvsml.models.network_registry import ARCHITECTURES, Architecture

from .base import NetClassifier, NetRegressor, SkorchNet

#: Architecture name -> ``(module, class, input kind)``: a read-only view of the architectures
#: declared with :func:`nnvsml.models.network_registry.register_network`, whose
#: ``INPUT_KINDS`` describes the input kinds.
ARRAY_ARCHITECTURES: Mapping[str, Architecture] = MappingProxyType(ARCHITECTURES)
_NDIM = {"image": 4, "tokens": 2, "sequence": 3, "spectrogram": 3}


def architecture(name: str) -> tuple[type[nn.Module], str]:
    """The module class and input kind of an architecture name."""
    if name not in ARRAY_ARCHITECTURES:
        raise ValueError(f"arch must be one of {sorted(ARRAY_ARCHITECTURES)}, got {name!r}")
    spec = ARRAY_ARCHITECTURES[name]
    return spec.load(), spec.kind


class InputNetwork(nn.Module):
    """Raw batch in, logits out: scale and standardise the batch, augment it while training,
    then run the architecture. The scaling lives in the module so a saved model takes raw data."""

    def __init__(self, arch: str, input_shape: tuple[int, ...], n_out: int,
                 mean: np.ndarray | None = None, std: np.ndarray | None = None,
                 vocab_size: int | None = None, augment: dict | None = None,
                 arch_params: dict | None = None) -> None:
        super().__init__()
        cls, self.kind = architecture(arch)
        if mean is not None:
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.augment = None
        if augment is not None:
            from .augment import ImageAugment

            self.augment = ImageAugment(**augment)
        kwargs = dict(arch_params or {})
        if self.kind == "tokens":
            self.body = cls(vocab_size, input_shape, n_out, **kwargs)
        else:
            self.body = cls(input_shape, n_out, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "image":
            x = x.float() / 255.0
        if self.kind != "tokens":
            x = (x - self.mean) / self.std
        if self.augment is not None:
            x = self.augment(x)
        return self.body(x)


def _channel_stats(X: np.ndarray, axis: tuple[int, ...], scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``axis``, ignoring NaN, in float64 without a float copy
    of the whole set: the statistics of a large image set are accumulated in chunks."""
    total = np.zeros(1)
    sums = sq = None
    for start in range(0, len(X), 4096):
        chunk = X[start:start + 4096].astype(np.float64) / scale
        valid = np.isfinite(chunk)
        chunk = np.where(valid, chunk, 0.0)
        s, q, n = chunk.sum(axis=axis), (chunk ** 2).sum(axis=axis), valid.sum(axis=axis)
        sums, sq, total = (s, q, n) if sums is None else (sums + s, sq + q, total + n)
    mean = sums / np.maximum(total, 1)
    std = np.sqrt(np.maximum(sq / np.maximum(total, 1) - mean ** 2, 0.0))
    return mean, np.where(std > 1e-6, std, 1.0)


class _ArrayNet(SkorchNet):
    """Array input in the layout of its architecture's input kind."""

    def __init__(
        self,
        arch: str = "cnn",
        arch_params: dict[str, Any] | None = None,
        augment: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 128,
        max_epochs: int = 100,
        patience: int = 8,
        valid_fraction: float = 0.15,
        grad_clip: float | None = 1.0,
        lr_schedule: str | None = "plateau",
        max_time: float | None = None,
        device: str = "auto",
        random_state: int | None = 0,
        verbose: int = 0,
        callbacks: list | None = None,
        early_stopping: bool = True,
    ) -> None:
        super().__init__(arch=arch, arch_params=arch_params, lr=lr, weight_decay=weight_decay,
                         batch_size=batch_size, max_epochs=max_epochs, patience=patience,
                         valid_fraction=valid_fraction, grad_clip=grad_clip,
                         lr_schedule=lr_schedule, max_time=max_time, device=device,
                         random_state=random_state, verbose=verbose, callbacks=callbacks,
                         early_stopping=early_stopping)
        self.augment = augment

    def _validate(self, X: Any, y: Any = "no_validation", reset: bool = True):
        # A fitted network keeps its input kind: predicting needs no registered architecture.
        kind = architecture(self.arch)[1] if reset else self.input_kind_
        if reset:
            self.input_kind_ = kind
        out = validate_data(self, X, y, reset=reset, dtype=None, allow_nd=True,
                            ensure_all_finite=False, ensure_min_features=1)
        X_checked = out[0] if isinstance(out, tuple) else out
        if X_checked.ndim != _NDIM[kind]:
            raise ValueError(f"{self.arch} takes {_NDIM[kind]}-D input ({kind}), got shape "
                             f"{X_checked.shape}")
        if reset:
            self.input_shape_ = tuple(int(d) for d in X_checked.shape[1:])
        elif tuple(X_checked.shape[1:]) != self.input_shape_:
            raise ValueError(f"input has shape {X_checked.shape[1:]} per row; the network was "
                             f"fitted on {self.input_shape_}")
        return out

    def _prepare(self, X: np.ndarray) -> None:
        kind = self.input_kind_
        self.mean_ = self.std_ = self.vocab_size_ = None
        if kind == "image":
            mean, std = _channel_stats(X, axis=(0, 1, 2), scale=255.0)
            self.mean_, self.std_ = mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)
        elif kind in ("sequence", "spectrogram"):
            # Per channel for sequences, per mel band for spectrograms.
            mean, std = _channel_stats(X, axis=(0, 2), scale=1.0)
            self.mean_, self.std_ = mean.reshape(1, -1, 1), std.reshape(1, -1, 1)
        else:
            self.vocab_size_ = max(2, int(X.max(initial=0)) + 1)

    def _tensors(self, X: np.ndarray) -> torch.Tensor:
        if self.input_kind_ == "image":
            # Channels first, as torch's convolutions want; still uint8.
            return torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))
        if self.input_kind_ == "tokens":
            # Ids past the fitted vocabulary (from another tokenizer) are "unknown".
            ids = np.asarray(X, dtype=np.int64)
            return torch.from_numpy(np.where(ids < self.vocab_size_, ids, 1))
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))

    def _module(self) -> tuple[type[nn.Module], dict[str, Any]]:
        shape = self.input_shape_
        if self.input_kind_ == "image":
            shape = (shape[2], shape[0], shape[1])
        return InputNetwork, {
            "arch": self.arch,
            "input_shape": shape,
            "mean": self.mean_,
            "std": self.std_,
            "vocab_size": self.vocab_size_,
            "augment": self.augment if self.input_kind_ == "image" else None,
            "arch_params": self.arch_params,
        }


class ArrayNetClassifier(NetClassifier, _ArrayNet):
    """Neural-network classifier for images, token sequences, time series and spectrograms.

    ``arch`` names the architecture (a key of ``ARRAY_ARCHITECTURES``; add one with
    :func:`nnvsml.models.network_registry.register_network`), which fixes the input layout:
    ``cnn``/``resnet`` take uint8 images (n, H, W, C); ``text_cnn``/``text_rnn``/
    ``text_transformer`` take token ids (n, L) from :class:`.tokenizer.Tokenizer`; ``seq_rnn``/
    ``fcn``/``seq_transformer`` take float series (n, C, T) NaN-padded at the end;
    ``audio_cnn`` takes log-mel spectrograms (n, n_mels, frames).

    Parameters are those of the tabular networks (see :class:`.base.SkorchNet`) plus
    ``augment``: keyword arguments of :class:`.augment.ImageAugment` (random shifts and
    rotations per training batch) for image architectures, or None.

    Attributes (after ``fit``): ``classes_``, ``history_``, ``n_epochs_``, ``best_epoch_``,
    ``stopped_by_``, ``device_``, ``n_parameters_``, ``input_kind_``, ``input_shape_``,
    ``mean_``/``std_`` (standardisation learned from the training rows), ``vocab_size_``.

    Example (8x8 digits as 1-channel images):
        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> digits = load_digits()
        >>> X = (digits.images * 16).clip(0, 255).astype(np.uint8)[..., None]
        >>> model = ArrayNetClassifier("cnn", max_epochs=8).fit(X[:1200], digits.target[:1200])
        >>> float((model.predict(X[1200:]) == digits.target[1200:]).mean()) > 0.85
        True
    """


class ArrayNetRegressor(NetRegressor, _ArrayNet):
    """Neural-network regressor for the same inputs as :class:`ArrayNetClassifier`; the target
    is standardized internally and predictions are mapped back."""
