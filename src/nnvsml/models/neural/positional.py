"""Sinusoidal positional encoding (Vaswani et al., 2017, "Attention Is All You Need").

Self-attention is permutation-invariant, so the transformers add a fixed signal that tells them
where each step sits: ``PE[pos, 2i] = sin(pos / 10000^(2i/d))`` and ``PE[pos, 2i+1] = cos(...)``.
Fixed rather than learned because it needs no data, works for any length (a test batch may be
longer than every training batch) and adds no parameters to overfit on small datasets.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_encoding(length: int, d_model: int) -> torch.Tensor:
    """The ``[length, d_model]`` table of sinusoidal position codes.

    >>> sinusoidal_encoding(5, 6).shape
    torch.Size([5, 6])
    """
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(1e4) / d_model)
    )
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    # An odd d_model has one fewer cosine column than sine columns.
    table[:, 1::2] = torch.cos(position * frequency)[:, : d_model // 2]
    return table


class PositionalEncoding(nn.Module):
    """Adds sinusoidal position codes to ``x [B, T, d_model]``; any ``T`` works.

    The table for ``max_len`` steps is precomputed; a longer input gets a freshly computed one.
    The buffer is not persistent, so it stays out of saved state dicts.

    >>> PositionalEncoding(8, max_len=4)(torch.zeros(2, 10, 8)).shape
    torch.Size([2, 10, 8])
    """

    def __init__(self, d_model: int, max_len: int = 512) -> None:
        super().__init__()
        self.d_model = d_model
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        if length <= self.table.shape[0]:
            table = self.table[:length]
        else:
            table = sinusoidal_encoding(length, self.d_model).to(x.device)
        return x + table.to(x.dtype)
