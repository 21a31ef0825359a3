"""scikit-learn estimators that train the tabular networks with skorch.

Input layout: a pandas DataFrame whose columns named ``cat__*`` hold integer category codes
(``0`` = missing/unknown) and whose other columns are numeric; a plain array is all numeric. The
whole input is converted to tensors once per ``fit``/``predict`` call and batches are sliced from
those tensors (see :mod:`.loader`). The training protocol is :class:`.base.SkorchNet`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import validate_data
from torch import nn

from .base import NetClassifier, NetRegressor, SkorchNet
from .ft_transformer import FTTransformer
from .mlp import MLP

ARCHITECTURES: dict[str, type[nn.Module]] = {"mlp": MLP, "ft_transformer": FTTransformer}
CAT_PREFIX = "cat__"


class _TabularNet(SkorchNet):
    """Tabular input: numeric columns and ``cat__*`` category codes, as two tensors."""

    def _validate(self, X: Any, y: Any = "no_validation", reset: bool = True):
        return validate_data(self, X, y, reset=reset, dtype=np.float64, ensure_all_finite=False)

    def _is_categorical(self) -> np.ndarray:
        """Boolean mask over the input columns: True for the ``cat__*`` ones."""
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return np.zeros(self.n_features_in_, dtype=bool)
        return np.char.startswith(names.astype(str), CAT_PREFIX)

    def _prepare(self, X: np.ndarray) -> None:
        is_cat = self._is_categorical()
        self.cat_columns_ = (
            [str(name) for name in self.feature_names_in_[is_cat]] if is_cat.any() else []
        )
        self.n_num_ = int((~is_cat).sum())
        highest_codes = np.where(np.isfinite(X[:, is_cat]), X[:, is_cat], 0).max(axis=0, initial=0)
        self.cat_cardinalities_ = [max(2, int(code) + 1) for code in highest_codes]

    def _tensors(self, X: np.ndarray) -> dict[str, torch.Tensor]:
        """Splits a validated float64 array into the module's two inputs."""
        is_cat = self._is_categorical()
        x_num = X[:, ~is_cat].astype(np.float32)
        x_num[~np.isfinite(x_num)] = 0.0
        # Missing, negative and unseen codes all become 0, the "unknown" level.
        x_cat = X[:, is_cat]
        codes = np.where(
            (x_cat >= 0) & (x_cat < np.asarray(self.cat_cardinalities_)), x_cat, 0
        ).astype(np.int64)
        return {"x_num": torch.from_numpy(x_num), "x_cat": torch.from_numpy(codes)}

    def _module(self) -> tuple[type[nn.Module], dict[str, Any]]:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)}, got {self.arch!r}")
        return ARCHITECTURES[self.arch], {
            "n_num": self.n_num_,
            "cat_cardinalities": self.cat_cardinalities_,
            **(self.arch_params or {}),
        }


class TabularNetClassifier(NetClassifier, _TabularNet):
    """Neural-network classifier for tabular data (MLP or FT-Transformer), trained with skorch.

    ``X``: a DataFrame whose ``cat__*`` columns hold integer category codes (0 = missing or
    unknown) and whose other columns are numeric, or an all-numeric array. Labels may be of any
    sortable type (strings included).

    Parameters:
        arch: ``"mlp"`` or ``"ft_transformer"`` (a key of ``ARCHITECTURES``).
        arch_params: keyword arguments for the architecture, e.g. ``{"hidden_sizes": (128,)}``.
        lr: AdamW learning rate.
        weight_decay: AdamW (decoupled) weight decay.
        batch_size: rows per training batch.
        max_epochs: upper bound on training epochs.
        patience: epochs without validation-loss improvement before stopping; the best weights
            are restored.
        valid_fraction: share of the rows given to ``fit`` held out (stratified, seeded) for
            early stopping and the learning-rate schedule.
        grad_clip: maximum gradient norm, or None for no clipping.
        lr_schedule: ``"plateau"`` (halve on a validation-loss plateau), ``"cosine"`` or None.
        max_time: training budget in seconds; training stops at the end of the epoch that
            exceeds it and keeps the best weights so far. None for no limit.
        device: ``"auto"`` (CUDA when available, else CPU), or a torch device string.
        random_state: seed for the split, weight initialization, shuffling and dropout.
        verbose: skorch's per-epoch log when > 0.

    Attributes (after ``fit``): ``classes_``, ``history_`` (one dict per epoch: epoch,
    train_loss, valid_loss, dur, lr), ``n_epochs_``, ``best_epoch_``, ``stopped_by_``
    (``"early_stopping"``, ``"time_limit"`` or ``"max_epochs"``), ``device_``,
    ``n_parameters_``, ``n_num_``, ``cat_columns_``, ``cat_cardinalities_``, ``net_`` (the
    fitted skorch net).

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.model_selection import train_test_split
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
        >>> model = make_pipeline(StandardScaler(), TabularNetClassifier(max_epochs=30))
        >>> model.fit(X_train, y_train).score(X_test, y_test) > 0.9
        True
        >>> model.predict_proba(X_test[:2]).shape
        (2, 2)
    """


class TabularNetRegressor(NetRegressor, _TabularNet):
    """Neural-network regressor for tabular data (MLP or FT-Transformer), trained with skorch.

    Takes the same input and hyperparameters as :class:`TabularNetClassifier`. The target is
    standardized internally (mean and standard deviation learned in ``fit``; the loss is the MSE
    on that scale) and predictions are mapped back to the original scale.

    Attributes (after ``fit``): ``y_mean_``, ``y_std_``, ``history_``, ``n_epochs_``,
    ``best_epoch_``, ``stopped_by_``, ``device_``, ``n_parameters_``, ``n_num_``,
    ``cat_columns_``, ``cat_cardinalities_``, ``net_``.

    Example (predicting one measurement from the others):
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.model_selection import train_test_split
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> X = load_breast_cancer(as_frame=True).data
        >>> y = X.pop("mean area")
        >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        >>> model = make_pipeline(StandardScaler(), TabularNetRegressor(max_epochs=30))
        >>> model.fit(X_train, y_train).score(X_test, y_test) > 0.8
        True
    """
