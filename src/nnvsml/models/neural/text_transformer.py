"""A small Transformer encoder for text classification (Vaswani et al., 2017, "Attention Is All
You Need"; https://arxiv.org/abs/1706.03762), trained from scratch.

Token embeddings scaled by sqrt(d_model), plus sinusoidal positions -> pre-norm encoder layers
(Xiong et al., 2020, "On Layer Normalization in the Transformer Architecture": pre-norm trains
stably without a learning-rate warm-up) -> mean of the outputs over real tokens -> LayerNorm ->
Linear. Mean pooling instead of a [CLS] token because, trained from scratch on a few thousand
documents, the average is the more reliable summary.

Padding is invisible: attention ignores padded keys (``src_key_padding_mask``) and the mean counts
only real tokens, so a text's output does not depend on the padding after it. An empty text keeps
position 0 unmasked (it attends to one padding token) so its attention is never all ``-inf``.

Shapes: input ``[B, L]`` int64 token ids (0 = padding at the end, 1 = unknown word), output
``[B, n_out]`` logits.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .masking import keep_first, masked_mean, token_mask
from .positional import PositionalEncoding


def encoder(
    d_model: int, n_heads: int, n_layers: int, dim_feedforward: int, dropout: float
) -> nn.TransformerEncoder:
    """A stack of pre-norm encoder layers (batch first), shared by the text and sequence models."""
    if d_model % n_heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
    layer = nn.TransformerEncoderLayer(
        d_model,
        n_heads,
        dim_feedforward=dim_feedforward,
        dropout=dropout,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    # Nested tensors are unused with norm_first (torch would warn about it on every build).
    return nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)


class TextTransformer(nn.Module):
    """Embedding * sqrt(d) + positions -> pre-norm encoder -> masked mean -> LayerNorm -> Linear.

    Args:
        vocab_size: number of token ids, padding (0) and unknown (1) included.
        input_shape: ``(max_length,)``; sizes the precomputed position table (longer inputs work).
        n_out: number of classes.
        d_model: token width; must be divisible by ``n_heads``.
        n_heads: attention heads per layer.
        n_layers: encoder layers.
        dim_feedforward: hidden width of each layer's feed-forward network.
        dropout: dropout on the embeddings and inside every layer.

    >>> model = TextTransformer(vocab_size=100, input_shape=(20,), n_out=3)
    >>> model(torch.randint(0, 100, (4, 20))).shape
    torch.Size([4, 3])
    """

    def __init__(
        self,
        vocab_size: int,
        input_shape: tuple[int, ...],
        n_out: int,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if len(input_shape) != 1:
            raise ValueError(
                f"TextTransformer expects input_shape (max_length,), got {input_shape}"
            )
        self.scale = math.sqrt(d_model)
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.positions = PositionalEncoding(d_model, max_len=max(1, input_shape[0]))
        self.dropout = nn.Dropout(dropout)
        self.encoder = encoder(d_model, n_heads, n_layers, dim_feedforward, dropout)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_out)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask, _ = token_mask(ids)
        mask = keep_first(mask)
        x = self.dropout(self.positions(self.embedding(ids) * self.scale))
        x = self.encoder(x, src_key_padding_mask=~mask)
        return self.head(self.norm(masked_mean(x, mask, dim=1)))
