"""A small Transformer encoder for time-series classification (Vaswani et al., 2017; applied to
time series as in Zerveas et al., 2021, "A Transformer-based Framework for Multivariate Time
Series Representation Learning", KDD).

Each time step (the vector of all channels) is projected to ``d_model`` by a linear layer, given a
sinusoidal position code, and passed through pre-norm encoder layers; the outputs are averaged
over the observed steps -> LayerNorm -> Linear. Attention compares every step with every other, so
its cost grows with T^2; a series longer than ``max_steps`` is therefore cut into non-overlapping
patches of ``ceil(T / max_steps)`` steps, each projected as one token (Nie et al., 2023, "A Time
Series is Worth 64 Words: Long-term Forecasting with Transformers"). With patches of one step
this is exactly the per-step projection.

Variable-length series (NaN-padded at the end): attention ignores padded keys and the mean counts
only observed steps, so the output for a series does not depend on the padding after it. A series
with no observed step keeps position 0 unmasked, which keeps its output finite.

Shapes: input ``[B, C, T]`` float (standardised per channel, NaN after a series ends), output
``[B, n_out]`` logits.
"""

from __future__ import annotations

import torch
from torch import nn

from .masking import keep_first, masked_mean, patch_size, split_padding, to_patches
from .positional import PositionalEncoding
from .text_transformer import encoder


class SequenceTransformer(nn.Module):
    """Linear(C * patch -> d) per patch + positions -> pre-norm encoder -> masked mean -> Linear.

    Args:
        input_shape: ``(C, T)`` of one series; sizes the precomputed position table.
        n_out: number of classes.
        d_model: step width; must be divisible by ``n_heads``.
        n_heads: attention heads per layer.
        n_layers: encoder layers.
        dim_feedforward: hidden width of each layer's feed-forward network.
        dropout: dropout on the projected input and inside every layer.
        max_steps: cut series longer than this (per ``input_shape``) into patches so that
            attention sees at most this many tokens; None keeps one token per step.

    >>> model = SequenceTransformer((3, 50), n_out=4)
    >>> model(torch.randn(2, 3, 50)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        max_steps: int | None = 128,
    ) -> None:
        super().__init__()
        if len(input_shape) != 2:
            raise ValueError(f"SequenceTransformer expects input_shape (C, T), got {input_shape}")
        # Fixed from the training length, so that the patches do not move with the padding.
        self.patch = patch_size(input_shape[1], max_steps)
        self.project = nn.Linear(input_shape[0] * self.patch, d_model)
        n_tokens = -(-input_shape[1] // self.patch)
        self.positions = PositionalEncoding(d_model, max_len=max(1, n_tokens))
        self.dropout = nn.Dropout(dropout)
        self.encoder = encoder(d_model, n_heads, n_layers, dim_feedforward, dropout)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _, lengths = split_padding(x)
        tokens, lengths = to_patches(x, lengths, self.patch)
        mask = keep_first(torch.arange(tokens.shape[1], device=x.device) < lengths.unsqueeze(1))
        h = self.dropout(self.positions(self.project(tokens)))
        h = self.encoder(h, src_key_padding_mask=~mask)
        return self.head(self.norm(masked_mean(h, mask, dim=1)))
