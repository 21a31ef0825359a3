"""A recurrent network for time-series classification: a packed LSTM or GRU over the time steps.

Long short-term memory (Hochreiter & Schmidhuber, 1997) or the gated recurrent unit (Cho et al.,
2014) reads the series one step (a vector of all channels) at a time; the last layer's final
hidden state, which has seen the whole series, feeds a linear head. Recurrent nets are the
classic neural baseline for sequences; on many UCR/UEA benchmarks they lose to convolutional
networks (Fawaz et al., 2019, "Deep learning for time series classification: a review"), which is
exactly the kind of finding this project wants to measure rather than assume.

A series longer than ``max_steps`` is read in non-overlapping patches of ``ceil(T / max_steps)``
steps (the patch's values, all channels, form one input vector): on a CPU a recurrent network's
cost, the backward pass especially, grows steeply with the number of steps, and a 500-step series
read step by step would take minutes per epoch.

Variable-length series (NaN-padded at the end) are packed by length, so the network stops at each
series' last observed step and the output does not depend on the padding after it. A series with
no observed step reads one zero step, which keeps its output finite.

Shapes: input ``[B, C, T]`` float (standardised per channel, NaN after a series ends), output
``[B, n_out]`` logits.
"""

from __future__ import annotations

import torch
from torch import nn

from .masking import patch_size, split_padding, to_patches
from .text_rnn import CELLS, final_states


class SequenceRNN(nn.Module):
    """Packed (bi)LSTM/GRU over ``[B, T, C]`` -> final hidden states -> dropout -> Linear.

    Args:
        input_shape: ``(C, T)`` of one series; any ``T`` works at run time.
        n_out: number of classes.
        hidden_size: hidden units per direction.
        cell: ``"lstm"`` or ``"gru"``.
        num_layers: stacked recurrent layers.
        bidirectional: also read the series backwards.
        dropout: dropout between stacked layers and before the head.
        max_steps: read series longer than this (per ``input_shape``) in patches so that the
            network takes at most this many steps; None reads every step.

    >>> model = SequenceRNN((3, 50), n_out=4)
    >>> model(torch.randn(2, 3, 50)).shape
    torch.Size([2, 4])
    >>> SequenceRNN((1, 500), n_out=2).patch  # 500 steps are read as 125 patches of 4
    4
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        hidden_size: int = 64,
        cell: str = "lstm",
        num_layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.1,
        max_steps: int | None = 128,
    ) -> None:
        super().__init__()
        if len(input_shape) != 2:
            raise ValueError(f"SequenceRNN expects input_shape (C, T), got {input_shape}")
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        # Fixed from the training length, so that the patches do not move with the padding.
        self.patch = patch_size(input_shape[1], max_steps)
        self.rnn = CELLS[cell](
            input_shape[0] * self.patch,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _, lengths = split_padding(x)
        steps, lengths = to_patches(x, lengths, self.patch)
        h = final_states(self.rnn, steps, lengths.clamp(min=1))
        return self.head(self.dropout(h))
