"""The training protocol every network in nnvsml shares, whatever its input.

:class:`SkorchNet` holds the hyperparameters and the skorch training loop; subclasses say only
how their input becomes tensors and which module to build (:mod:`.estimator` for tables,
:mod:`.array_estimator` for images, text, sequences and audio). :class:`NetClassifier` and
:class:`NetRegressor` add the task on top, so a tabular and an image classifier behave the same.

The protocol: AdamW, a seeded validation split carved from the rows given to ``fit``
(stratified for classification), early stopping on the validation loss that restores the best
weights, gradient-norm clipping, a learning-rate schedule and an optional wall-clock budget. The
last four are skorch callbacks around skorch's own training loop, not branches inside it.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import Tags, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping, GradientNormClipping, LRScheduler
from skorch.dataset import ValidSplit
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau

from .callbacks import RecordLR, TimeLimit
from .loader import BatchIterator

LR_SCHEDULES = ("plateau", "cosine", None)
HISTORY_KEYS = ("epoch", "train_loss", "valid_loss", "dur", "lr")
#: Passes over a table streamed in chunks (one epoch per chunk) when no clock ends them first.
STREAM_PASSES = 3


def use_free_cores() -> None:
    """As many torch threads as there are idle cores (see :mod:`nnvsml.resources`)."""
    # An explicit OMP_NUM_THREADS is the user's choice (e.g. several fits running side by side).
    if "OMP_NUM_THREADS" in os.environ:
        return
    from nnvsml.resources import free_cores

    torch.set_num_threads(free_cores())


class SkorchNet(BaseEstimator):
    """Shared hyperparameters and training loop. Subclasses implement ``_validate`` (checked
    input array), ``_prepare`` (learn input facts in ``fit``), ``_tensors`` (array -> module
    input) and ``_module`` (module class and keyword arguments)."""

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
        callbacks: list | None = None,
        early_stopping: bool = True,
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
        self.callbacks = callbacks
        self.early_stopping = early_stopping

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ---- hooks -------------------------------------------------------------------------------

    def _validate(self, X: Any, y: Any = "no_validation", reset: bool = True):
        """``validate_data``'s contract: X alone when y is "no_validation", else (X, y)."""
        raise NotImplementedError

    def _prepare(self, X: Any) -> None:
        """Learns what the input says about the module (sizes, scales) before training."""

    def _tensors(self, X: Any) -> Any:
        raise NotImplementedError

    def _module(self) -> tuple[type[nn.Module], dict[str, Any]]:
        raise NotImplementedError

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
        if self.early_stopping:  # off only to measure what it is worth (the overfitting evidence)
            callbacks.append(("early_stopping",
                              EarlyStopping("valid_loss", patience=self.patience, load_best=True)))
        callbacks.append(("time_limit", TimeLimit(self.max_time)))
        # The caller's own (name, callback) pairs, e.g. a tuner's pruning, see every epoch's scores.
        callbacks.extend(self.callbacks or [])
        return callbacks

    def _check_params(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in (0, 1), got {self.valid_fraction!r}")

    def _train(self, X: Any, y: torch.Tensor, n_out: int, stratify: bool) -> SkorchNet:
        """Trains on X as returned by ``_validate``."""
        self._check_params()
        use_free_cores()
        self.device_ = (
            ("cuda" if torch.cuda.is_available() else "cpu")
            if self.device == "auto"
            else self.device
        )
        self._prepare(X)
        inputs = self._tensors(X)
        module, module_kwargs = self._module()

        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        net = self._skorch_class(
            module=module,
            **{f"module__{key}": value for key, value in module_kwargs.items()},
            module__n_out=n_out,
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
        return self._trained(net, epochs_before=0)

    def continue_fit(self, X: Any, y: Any, max_time: float | None = None) -> SkorchNet:
        """Train the fitted network further, from the weights it has, for up to ``max_time``
        seconds (the anytime protocol's longer fit: the time of a first fit is not thrown away).
        The same validation rows as the first fit; early stopping watches this continuation and
        restores its best epoch. ``X`` is what ``fit`` was given (after any pipeline steps)."""
        check_is_fitted(self, "net_")
        X, y = self._validate(X, y, reset=False)
        target = self._target(y)
        inputs = self._tensors(X)
        net = self.net_
        before = len(net.history)
        net.set_params(callbacks__time_limit__max_seconds=max_time)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + before)
            net.partial_fit(inputs, target)
        self.continued_ = getattr(self, "continued_", 0) + 1
        return self._trained(net, epochs_before=before)

    def _trained(self, net: NeuralNet, epochs_before: int) -> SkorchNet:
        """Why training stopped, and the history, once ``net`` has trained."""
        callbacks = dict(net.callbacks_)
        stopper = callbacks.get("early_stopping")
        if callbacks["time_limit"].stopped_:
            self.stopped_by_ = "time_limit"
        elif stopper is not None and stopper.misses_ >= self.patience:
            self.stopped_by_ = "early_stopping"
        elif (len(net.history) - epochs_before == self.max_epochs
              and "valid_loss" in net.history[-1]):
            self.stopped_by_ = "max_epochs"
        else:
            # skorch also ends fit quietly on Ctrl-C; the user's interrupt must reach the caller.
            raise KeyboardInterrupt
        return self._keep(net, stopper)

    def stream_fit(self, chunks, y=None, *, reference=None, batch_size: int = 0,
                   max_time: float | None = None, passes: int = STREAM_PASSES) -> SkorchNet:
        """Train the fitted network on, from its weights, over rows that never sit in memory
        together: one epoch on each chunk of ``chunks()`` (a callable giving (rows, target)
        pairs), pass after pass, until ``passes`` or ``max_time`` seconds. Each chunk's epoch
        holds out ``valid_fraction`` of it to watch the loss, as every fit does. ``y``,
        ``reference`` and ``batch_size`` are the streaming interface's and unused here."""
        check_is_fitted(self, "net_")
        net = self.net_
        before = len(net.history)
        start = time.perf_counter()
        stopped = False
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + before)
            for _ in range(max(1, passes)):
                for X_chunk, y_chunk in chunks():
                    left = None if max_time is None else max_time - (time.perf_counter() - start)
                    if left is not None and left <= 0:
                        stopped = True
                        break
                    X_chunk, y_chunk = self._validate(X_chunk, y_chunk, reset=False)
                    net.set_params(callbacks__time_limit__max_seconds=left)
                    net.partial_fit(self._tensors(X_chunk), self._target(y_chunk), epochs=1)
                    if dict(net.callbacks_)["time_limit"].stopped_:
                        stopped = True
                        break
                if stopped:
                    break
        self.streamed_ = True
        self.stopped_by_ = "time_limit" if stopped else "max_epochs"
        return self._keep(net, None)

    def _keep(self, net: NeuralNet, stopper) -> SkorchNet:
        """Keep the trained ``net`` with its history (after any kind of training)."""
        self.net_ = net
        # An epoch cut by the time limit has no scores: only finished epochs are history.
        self.history_ = [
            {"epoch": int(row["epoch"]), **{key: float(row[key]) for key in HISTORY_KEYS[1:]}}
            for row in net.history if all(key in row for key in HISTORY_KEYS)
        ]
        self.n_epochs_ = len(self.history_)
        self.best_epoch_ = (int(stopper.best_epoch_) if stopper is not None and self.n_epochs_
                            else self.n_epochs_)
        self.n_parameters_ = sum(p.numel() for p in net.module_.parameters())
        return self

    def _forward(self, X: Any) -> torch.Tensor:
        """Raw network outputs for X, on the CPU."""
        check_is_fitted(self, "net_")
        return self.net_.forward(self._tensors(self._validate(X, reset=False)), training=False,
                                 device="cpu")


def _stratifiable(y_codes: np.ndarray, n_classes: int, valid_fraction: float) -> bool:
    """Whether a stratified shuffle split of this size exists (every class needs 2+ rows, ...)."""
    n_valid = math.ceil(valid_fraction * len(y_codes))
    return bool(
        np.bincount(y_codes).min() >= 2 and n_classes <= n_valid <= len(y_codes) - n_classes
    )


class NetClassifier(ClassifierMixin):
    """The classification task on top of a :class:`SkorchNet`: labels of any sortable type,
    cross-entropy on the logits, softmax probabilities."""

    _skorch_class: ClassVar[type[NeuralNet]] = NeuralNetClassifier
    # The modules return logits: CrossEntropyLoss, not skorch's default NLLLoss. skorch's
    # accuracy scoring is dropped since nothing here reads it.
    _skorch_kwargs: ClassVar[dict[str, Any]] = {
        "criterion": nn.CrossEntropyLoss,
        "callbacks__valid_acc": None,
    }

    def fit(self, X: Any, y: Any):
        X, y = self._validate(X, y, reset=True)
        check_classification_targets(y)
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("y has only one class; a classifier needs at least 2")
        stratify = _stratifiable(y_codes, len(self.classes_), self.valid_fraction)
        return self._train(
            X, torch.from_numpy(y_codes.astype(np.int64)), len(self.classes_), stratify
        )

    def _target(self, y: Any) -> torch.Tensor:
        codes = np.searchsorted(self.classes_, y)
        if not np.array_equal(self.classes_[np.clip(codes, 0, len(self.classes_) - 1)], y):
            raise ValueError("y holds a class the network was not first fitted with")
        return torch.from_numpy(codes.astype(np.int64))

    def predict_proba(self, X: Any) -> np.ndarray:
        # Softmax in float64 so each row sums to 1 to machine precision.
        return torch.softmax(self._forward(X).double(), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        best = self._forward(X).argmax(dim=1).numpy()
        return self.classes_[best]


class NetRegressor(RegressorMixin):
    """The regression task on top of a :class:`SkorchNet`: the target is standardized
    internally (the loss is the MSE on that scale) and predictions are mapped back."""

    _skorch_class: ClassVar[type[NeuralNet]] = NeuralNetRegressor
    _skorch_kwargs: ClassVar[dict[str, Any]] = {"criterion": nn.MSELoss}

    def fit(self, X: Any, y: Any):
        X, y = self._validate(X, y, reset=True)
        y = np.asarray(y, dtype=np.float64)
        self.y_mean_ = float(y.mean())
        # A constant target would divide by zero; its scale is then irrelevant.
        self.y_std_ = float(y.std()) or 1.0
        y_scaled = ((y - self.y_mean_) / self.y_std_).astype(np.float32).reshape(-1, 1)
        return self._train(X, torch.from_numpy(y_scaled), n_out=1, stratify=False)

    def _target(self, y: Any) -> torch.Tensor:
        y = np.asarray(y, dtype=np.float64)
        return torch.from_numpy(((y - self.y_mean_) / self.y_std_).astype(np.float32).reshape(-1, 1))

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(X).double().numpy().ravel() * self.y_std_ + self.y_mean_
