"""A convolutional network for text classification (Kim, 2014, "Convolutional Neural Networks for
Sentence Classification", EMNLP; https://arxiv.org/abs/1408.5882).

Word embeddings -> parallel 1-D convolutions of several widths (n-gram detectors, 3/4/5 words by
default) -> ReLU -> max over time -> dropout -> Linear. The max over time asks "does this n-gram
pattern occur anywhere in the text?", which is why the model is position-invariant and strong on
short texts such as reviews, headlines and messages.

Padding never reaches the max: each convolution sees the text followed by ``kernel - 1`` zero
vectors (so a text shorter than the widest kernel still has one full window), and only windows
that start on a real token compete. The result for a text is the same however much padding
follows it. An empty text (all padding) keeps its first window, which sees only zeros, so it gets
a constant, finite output.

Shapes: input ``[B, L]`` int64 token ids (0 = padding at the end, 1 = unknown word), output
``[B, n_out]`` logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .masking import keep_first, masked_max, token_mask


class TextCNN(nn.Module):
    """Embedding -> [Conv1d(k) -> ReLU -> masked max over time] for each k -> dropout -> Linear.

    Args:
        vocab_size: number of token ids, padding (0) and unknown (1) included.
        input_shape: ``(max_length,)``; any length works at run time.
        n_out: number of classes.
        embed_dim: width of the word embeddings (learned from scratch).
        kernel_sizes: widths, in tokens, of the parallel convolutions.
        channels: feature maps per kernel size.
        dropout: dropout on the pooled features (0.5 in the paper).

    >>> model = TextCNN(vocab_size=100, input_shape=(20,), n_out=3)
    >>> model(torch.randint(0, 100, (4, 20))).shape
    torch.Size([4, 3])
    """

    def __init__(
        self,
        vocab_size: int,
        input_shape: tuple[int, ...],
        n_out: int,
        embed_dim: int = 64,
        kernel_sizes: Sequence[int] = (3, 4, 5),
        channels: int = 64,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if len(input_shape) != 1:
            raise ValueError(f"TextCNN expects input_shape (max_length,), got {input_shape}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, channels, k) for k in kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels * len(kernel_sizes), n_out)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask, _ = token_mask(ids)
        # Zeroing by the mask (not only via padding_idx) keeps padding exactly zero whatever the
        # optimiser does to row 0 of the embedding table.
        x = (self.embedding(ids) * mask.unsqueeze(-1)).transpose(1, 2)  # [B, D, L]
        starts = keep_first(mask)  # a window is valid when it starts on a real token
        pooled = []
        for conv in self.convs:
            k = conv.kernel_size[0]
            h = F.relu(conv(F.pad(x, (0, k - 1))))  # [B, C, L]: one window per start position
            pooled.append(masked_max(h, starts.unsqueeze(1), dim=2))
        return self.head(self.dropout(torch.cat(pooled, dim=1)))
