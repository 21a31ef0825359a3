"""A batch iterator that slices whole batches out of pre-built tensors.

skorch's default ``torch.utils.data.DataLoader`` fetches one row at a time through
``Dataset.__getitem__`` and collates the rows back into a batch: on tabular data that Python
overhead dominates the epoch. Tabular data fits in memory as a few tensors, so this iterator
gathers the rows of a (possibly ``Subset``-wrapped) skorch ``Dataset`` once, then yields each
batch with a single index operation per tensor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from skorch.utils import data_from_dataset

Batch = tuple[Any, torch.Tensor | None]


def _take(data: Any, index: torch.Tensor | slice) -> Any:
    if isinstance(data, dict):
        return {key: value[index] for key, value in data.items()}
    return data[index]


def _as_tensors(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: torch.as_tensor(value) for key, value in data.items()}
    return torch.as_tensor(data)


class BatchIterator:
    """Iterates over ``dataset`` in batches of ``batch_size`` rows.

    Args:
        dataset: a skorch ``Dataset`` (or a ``torch.utils.data.Subset`` of one, as produced by
            skorch's ``ValidSplit``) whose ``X`` is a tensor or a dict of tensors.
        batch_size: rows per batch.
        shuffle: draw a fresh permutation of the rows on every pass (for training).
        seed: seed of the permutation generator, so shuffled runs are reproducible.
    """

    def __init__(
        self, dataset: Any, batch_size: int, shuffle: bool = False, seed: int | None = None
    ) -> None:
        X, y = data_from_dataset(dataset)
        self.X = _as_tensors(X)
        self.y = None if y is None else torch.as_tensor(y)
        self.n_rows = len(dataset)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)

    def _stops(self) -> range:
        stops = range(self.batch_size, self.n_rows + self.batch_size, self.batch_size)
        # BatchNorm cannot normalise a single row in training mode, so a trailing one-row batch
        # is dropped; reshuffling means that row is trained on in other epochs.
        if self.shuffle and self.n_rows > 1 and self.n_rows % self.batch_size == 1:
            return stops[:-1]
        return stops

    def __len__(self) -> int:
        return len(self._stops())

    def __iter__(self) -> Iterator[Batch]:
        order = torch.randperm(self.n_rows, generator=self.generator) if self.shuffle else None
        for stop in self._stops():
            start, stop = stop - self.batch_size, min(stop, self.n_rows)
            index = slice(start, stop) if order is None else order[start:stop]
            yield _take(self.X, index), None if self.y is None else self.y[index]
