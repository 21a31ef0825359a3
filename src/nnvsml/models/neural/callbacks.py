"""skorch callbacks used by the tabular estimators."""

from __future__ import annotations

import time
from typing import Any

from skorch import NeuralNet

from nnvsml import timing
from skorch.callbacks import Callback


class TimeLimit(Callback):
    """Stops training before an epoch that would end more than ``max_seconds`` after training began.

    The next epoch is assumed to take as long as the last one, so training ends *inside* the
    limit rather than one epoch after it (the first epoch always runs). Stopping raises
    ``KeyboardInterrupt``, skorch's way to end ``fit`` gracefully: the ``on_train_end``
    callbacks still run, so ``EarlyStopping(load_best=True)`` restores the best weights seen so
    far. Place it after ``EarlyStopping`` so the last epoch is still considered.
    ``max_seconds=None`` never stops. After training, ``stopped_`` says whether it fired.

    An epoch longer than the whole limit (a large image set on a slow machine) is cut at the
    batch that passes the limit (the first epoch at twice the limit): the weights of the best finished epoch are restored, or, when
    none finished, the network keeps what its batches so far taught it; ``mid_epoch_`` says so.
    """

    def __init__(self, max_seconds: float | None) -> None:
        self.max_seconds = max_seconds

    def on_train_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        self.started_at_ = self.epoch_started_at_ = time.perf_counter()
        self.stopped_ = self.mid_epoch_ = False

    def on_batch_end(self, net: NeuralNet, training: bool = False, **kwargs: Any) -> None:
        if not training or self.max_seconds is None:
            return
        elapsed = time.perf_counter() - self.started_at_
        # The first epoch may run past the limit (a network with no finished epoch has no
        # validated weights), up to FIRST_EPOCH_OVERRUN times it; later epochs stop at the limit.
        limit = timing.batch_cut(self.max_seconds, first_epoch=len(net.history) <= 1)
        if elapsed >= limit:
            self.stopped_ = self.mid_epoch_ = True
            raise KeyboardInterrupt

    def on_epoch_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        self.epoch_started_at_ = time.perf_counter()

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        if self.max_seconds is None:
            return
        now = time.perf_counter()
        last_epoch = now - self.epoch_started_at_
        if now - self.started_at_ + last_epoch >= self.max_seconds:
            self.stopped_ = True
            if net.verbose:
                print(f"Stopping: the next epoch would pass the time limit of {self.max_seconds} s.")
            raise KeyboardInterrupt


class RecordLR(Callback):
    """Records the learning rate each epoch trains with in the history, under ``"lr"``.

    Recorded at the start of the epoch, so the value is the one used for that epoch whichever
    scheduler (if any) changes it afterwards.
    """

    def on_epoch_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])


class TrialPruning(Callback):
    """Reports ``-valid_loss`` to an Optuna trial after each epoch and stops the trial (raising
    ``optuna.TrialPruned``, which ends ``fit``) when the trial's pruner drops it."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        import optuna

        loss = net.history[-1].get("valid_loss")
        if loss is None:
            return
        step = len(net.history)
        self.trial.report(-float(loss), step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {step}")


class GradientNorms(Callback):
    """Records each layer's gradient norm, every batch, as the loss left it.

    A layer is a parameter's module path ("blocks.0.linear" holds its weight and bias). After
    training, ``layers_`` lists them input to output, and ``norms_`` / ``max_norms_`` hold per
    layer the mean and the largest batch norm of each epoch. Place it before a clipping
    callback to see the norms clipping acts on.
    """

    def on_train_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        self.layers_: list[str] = []
        self.norms_: list[list[float]] = []
        self.max_norms_: list[list[float]] = []
        self._batches: list[dict[str, float]] = []

    def on_grad_computed(self, net: NeuralNet, named_parameters, training: bool = False,
                         **kwargs: Any) -> None:
        squares: dict[str, float] = {}
        for name, param in named_parameters:
            if param.grad is None:
                continue
            layer = name.rsplit(".", 1)[0] if "." in name else name
            squares[layer] = squares.get(layer, 0.0) + float(param.grad.detach().pow(2).sum())
        self._batches.append({k: v ** 0.5 for k, v in squares.items()})
        for layer in squares:
            if layer not in self.layers_:
                self.layers_.append(layer)
                self.norms_.append([float("nan")] * len(self.norms_[0]) if self.norms_ else [])
                self.max_norms_.append(list(self.norms_[-1]))

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        for i, layer in enumerate(self.layers_):
            values = [b[layer] for b in self._batches if layer in b]
            self.norms_[i].append(sum(values) / len(values) if values else float("nan"))
            self.max_norms_[i].append(max(values) if values else float("nan"))
        self._batches = []

    def on_train_end(self, net: NeuralNet, **kwargs: Any) -> None:
        # Early stopping and the time limit end training from an earlier callback's
        # on_epoch_end, so this one's never ran for the last epoch: record it now.
        if self._batches:
            self.on_epoch_end(net)
