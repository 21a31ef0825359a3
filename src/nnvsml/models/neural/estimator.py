"""scikit-learn estimators that train the tabular networks with skorch.

Input layout: a pandas DataFrame whose columns named ``cat__*`` hold integer category codes
(``0`` = missing/unknown) and whose other columns are numeric; a plain array is all numeric. The
whole input is converted to tensors once per ``fit``/``predict`` call and batches are sliced from
those tensors (see :mod:`.loader`).

Training protocol, identical for every architecture: AdamW, a seeded validation split carved from
the rows given to ``fit`` (stratified for classification), early stopping on the validation loss
that restores the best weights, gradient-norm clipping, a learning-rate schedule and an optional
wall-clock budget. The last four are skorch callbacks around skorch's own training loop.
"""

from __future__ import annotations

import math
import os
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import Tags, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping, GradientNormClipping, LRScheduler
from skorch.dataset import ValidSplit
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau

from .callbacks import RecordLR, TimeLimit
from .ft_transformer import FTTransformer
from .loader import BatchIterator
from .mlp import MLP

ARCHITECTURES: dict[str, type[nn.Module]] = {"mlp": MLP, "ft_transformer": FTTransformer}
LR_SCHEDULES = ("plateau", "cosine", None)
CAT_PREFIX = "cat__"
HISTORY_KEYS = ("epoch", "train_loss", "valid_loss", "dur", "lr")


def _use_all_cores() -> None:
    # An explicit OMP_NUM_THREADS is the user's choice (e.g. several fits running side by side).
    if "OMP_NUM_THREADS" in os.environ:
        return
    # Cores this process may run on, which a container or taskset can make fewer than the machine's.
    n_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(n_cores or 1)


class _TabularNet(BaseEstimator):
    """Shared hyperparameters, input handling and training loop of the two estimators."""

    _skorch_class: ClassVar[type[NeuralNet]]
    _skorch_kwargs: ClassVar[dict[str, Any]]

    def __init__(
        self,
        arch: str = "mlp",
        arch_params: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        max_epochs: int = 200,
        patience: int = 15,
        valid_fraction: float = 0.15,
        grad_clip: float | None = 1.0,
        lr_schedule: str | None = "plateau",
        max_time: float | None = None,
        device: str = "auto",
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        self.arch = arch
        self.arch_params = arch_params
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.valid_fraction = valid_fraction
        self.grad_clip = grad_clip
        self.lr_schedule = lr_schedule
        self.max_time = max_time
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        # Missing numeric values become 0 and missing category codes the unknown level.
        tags.input_tags.allow_nan = True
        return tags

    # ---- input -------------------------------------------------------------------------------

    def _is_categorical(self) -> np.ndarray:
        """Boolean mask over the input columns: True for the ``cat__*`` ones."""
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return np.zeros(self.n_features_in_, dtype=bool)
        return np.char.startswith(names.astype(str), CAT_PREFIX)

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

    # ---- training ----------------------------------------------------------------------------

    def _callbacks(self) -> list[tuple[str, Callback]]:
        callbacks: list[tuple[str, Callback]] = [("record_lr", RecordLR())]
        if self.grad_clip is not None:
            callbacks.append(
                ("grad_clip", GradientNormClipping(gradient_clip_value=self.grad_clip))
            )
        if self.lr_schedule == "plateau":
            # Several LR reductions fit inside one early-stopping patience window.
            scheduler = LRScheduler(
                ReduceLROnPlateau,
                monitor="valid_loss",
                factor=0.5,
                patience=max(1, self.patience // 3),
            )
            callbacks.append(("lr_scheduler", scheduler))
        elif self.lr_schedule == "cosine":
            callbacks.append(
                ("lr_scheduler", LRScheduler(CosineAnnealingLR, T_max=self.max_epochs))
            )
        # EarlyStopping and then TimeLimit come last: both may end training at epoch end, and the
        # epoch that triggers the time limit must still be considered for the best weights.
        callbacks.append(
            ("early_stopping", EarlyStopping("valid_loss", patience=self.patience, load_best=True))
        )
        callbacks.append(("time_limit", TimeLimit(self.max_time)))
        return callbacks

    def _check_params(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)}, got {self.arch!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in (0, 1), got {self.valid_fraction!r}")

    def _fit(self, X: np.ndarray, y: torch.Tensor, n_out: int, stratify: bool) -> _TabularNet:
        """Trains on X as returned by ``validate_data(self, X, y, reset=True)``."""
        self._check_params()
        _use_all_cores()
        self.device_ = (
            ("cuda" if torch.cuda.is_available() else "cpu")
            if self.device == "auto"
            else self.device
        )
        is_cat = self._is_categorical()
        self.cat_columns_ = (
            [str(name) for name in self.feature_names_in_[is_cat]] if is_cat.any() else []
        )
        self.n_num_ = int((~is_cat).sum())
        highest_codes = np.where(np.isfinite(X[:, is_cat]), X[:, is_cat], 0).max(axis=0, initial=0)
        self.cat_cardinalities_ = [max(2, int(code) + 1) for code in highest_codes]
        inputs = self._tensors(X)

        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        arch_params = {f"module__{key}": value for key, value in (self.arch_params or {}).items()}
        net = self._skorch_class(
            module=ARCHITECTURES[self.arch],
            module__n_num=self.n_num_,
            module__cat_cardinalities=self.cat_cardinalities_,
            module__n_out=n_out,
            **arch_params,
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=ValidSplit(self.valid_fraction, stratified=stratify, random_state=seed),
            iterator_train=BatchIterator,
            iterator_train__shuffle=True,
            iterator_train__seed=seed,
            iterator_valid=BatchIterator,
            callbacks=self._callbacks(),
            device=self.device_,
            verbose=self.verbose,
            **self._skorch_kwargs,
        )
        # Seed weight init and dropout without leaving the caller's global torch RNG reseeded.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net.fit(inputs, y)

        callbacks = dict(net.callbacks_)
        if callbacks["time_limit"].stopped_:
            self.stopped_by_ = "time_limit"
        elif callbacks["early_stopping"].misses_ >= self.patience:
            self.stopped_by_ = "early_stopping"
        elif len(net.history) == self.max_epochs and "valid_loss" in net.history[-1]:
            self.stopped_by_ = "max_epochs"
        else:
            # skorch also ends fit quietly on Ctrl-C; the user's interrupt must reach the caller.
            raise KeyboardInterrupt
        self.net_ = net
        self.history_ = [
            {"epoch": int(row["epoch"]), **{key: float(row[key]) for key in HISTORY_KEYS[1:]}}
            for row in net.history
        ]
        self.n_epochs_ = len(net.history)
        self.best_epoch_ = int(callbacks["early_stopping"].best_epoch_)
        self.n_parameters_ = sum(p.numel() for p in net.module_.parameters())
        return self

    def _forward(self, X: Any) -> torch.Tensor:
        """Raw network outputs for X, on the CPU."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=False)
        return self.net_.forward(self._tensors(X), training=False, device="cpu")


def _stratifiable(y_codes: np.ndarray, n_classes: int, valid_fraction: float) -> bool:
    """Whether a stratified shuffle split of this size exists (every class needs 2+ rows, ...)."""
    n_valid = math.ceil(valid_fraction * len(y_codes))
    return bool(
        np.bincount(y_codes).min() >= 2 and n_classes <= n_valid <= len(y_codes) - n_classes
    )


class TabularNetClassifier(ClassifierMixin, _TabularNet):
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

    _skorch_class: ClassVar[type[NeuralNet]] = NeuralNetClassifier
    # The modules return logits: CrossEntropyLoss, not skorch's default NLLLoss. skorch's
    # accuracy scoring is dropped since nothing here reads it.
    _skorch_kwargs: ClassVar[dict[str, Any]] = {
        "criterion": nn.CrossEntropyLoss,
        "callbacks__valid_acc": None,
    }

    def fit(self, X: Any, y: Any) -> TabularNetClassifier:
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite=False)
        check_classification_targets(y)
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("y has only one class; a classifier needs at least 2")
        stratify = _stratifiable(y_codes, len(self.classes_), self.valid_fraction)
        return self._fit(
            X, torch.from_numpy(y_codes.astype(np.int64)), len(self.classes_), stratify
        )

    def predict_proba(self, X: Any) -> np.ndarray:
        # Softmax in float64 so each row sums to 1 to machine precision.
        return torch.softmax(self._forward(X).double(), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        best = self._forward(X).argmax(dim=1).numpy()
        return self.classes_[best]


class TabularNetRegressor(RegressorMixin, _TabularNet):
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

    _skorch_class: ClassVar[type[NeuralNet]] = NeuralNetRegressor
    _skorch_kwargs: ClassVar[dict[str, Any]] = {"criterion": nn.MSELoss}

    def fit(self, X: Any, y: Any) -> TabularNetRegressor:
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite=False, y_numeric=True)
        self.y_mean_ = float(y.mean())
        # A constant target would divide by zero; its scale is then irrelevant.
        self.y_std_ = float(y.std()) or 1.0
        y_scaled = ((y - self.y_mean_) / self.y_std_).astype(np.float32).reshape(-1, 1)
        return self._fit(X, torch.from_numpy(y_scaled), n_out=1, stratify=False)

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(X).double().numpy().ravel() * self.y_std_ + self.y_mean_
