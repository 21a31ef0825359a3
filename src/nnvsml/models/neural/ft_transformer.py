"""FT-Transformer: a Transformer over per-feature tokens, for tabular data.

Gorishniy, Rubachev, Khrulkov & Babenko, 2021, "Revisiting Deep Learning Models for Tabular
Data" (NeurIPS 2021), https://arxiv.org/abs/2106.11959.

1. Feature tokenizer: every feature becomes a ``d_token`` vector. A numeric value x_j becomes
   ``x_j * W_j + b_j``; a categorical code c becomes ``E_j[c] + b_j``.
2. A learned [CLS] token is appended to the sequence of feature tokens.
3. ``n_layers`` pre-norm Transformer blocks mix the tokens: x + Attn(LN(x)), then x + FFN(LN(x)),
   with a ReGLU feed-forward of width ``ffn_factor * d_token``. As in the paper, the first block
   has no normalization before attention: its input is the raw tokenizer output.
4. Head on the final [CLS] token: LayerNorm -> ReLU -> Linear.

The paper's default uses d_token=192; the smaller default here (64) keeps training practical on a
few CPU cores. Shapes: ``x_num`` ``[B, n_num]`` float, ``x_cat`` ``[B, n_cat]`` long, output
``[B, n_out]``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class FeatureTokenizer(nn.Module):
    """Turns every feature into a token: output ``[B, n_num + n_cat, d_token]``."""

    def __init__(self, n_num: int, cat_cardinalities: list[int], d_token: int) -> None:
        super().__init__()
        self.num_weight = nn.Parameter(torch.empty(n_num, d_token))
        self.num_bias = nn.Parameter(torch.empty(n_num, d_token))
        # One table for all columns; each column's codes are shifted into its own row range.
        self.cat_embedding = nn.Embedding(sum(cat_cardinalities), d_token)
        cardinalities = torch.tensor(cat_cardinalities, dtype=torch.long)
        self.register_buffer("cat_offsets", cardinalities.cumsum(0) - cardinalities)
        self.cat_bias = nn.Parameter(torch.empty(len(cat_cardinalities), d_token))
        # The paper's initialization: uniform in +-1/sqrt(d_token) for every tokenizer parameter.
        bound = 1 / math.sqrt(d_token)
        for p in (self.num_weight, self.num_bias, self.cat_embedding.weight, self.cat_bias):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        num_tokens = x_num.unsqueeze(-1) * self.num_weight + self.num_bias
        cat_tokens = self.cat_embedding(x_cat + self.cat_offsets) + self.cat_bias
        return torch.cat([num_tokens, cat_tokens], dim=1)


class ReGLU(nn.Module):
    """ReLU-gated linear unit (Shazeer, 2020, "GLU Variants Improve Transformer"); halves width."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=-1)
        return a * torch.relu(b)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the feature tokens (no mask: every token sees every other)."""

    def __init__(self, d_token: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_token % n_heads:
            raise ValueError(f"d_token ({d_token}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_token, 3 * d_token)
        self.out = nn.Linear(d_token, d_token)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        h = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(h.transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    """Pre-norm Transformer block: x + Attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(
        self,
        d_token: int,
        n_heads: int,
        attention_dropout: float,
        ffn_hidden: int,
        ffn_dropout: float,
        residual_dropout: float,
        attention_norm: bool,
    ) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_token) if attention_norm else nn.Identity()
        self.attention = SelfAttention(d_token, n_heads, attention_dropout)
        self.ffn_norm = nn.LayerNorm(d_token)
        self.ffn = nn.Sequential(
            nn.Linear(d_token, 2 * ffn_hidden),
            ReGLU(),
            nn.Dropout(ffn_dropout),
            nn.Linear(ffn_hidden, d_token),
        )
        self.residual_dropout = nn.Dropout(residual_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.residual_dropout(self.attention(self.attention_norm(x)))
        return x + self.residual_dropout(self.ffn(self.ffn_norm(x)))


class FTTransformer(nn.Module):
    """Feature tokenizer -> [CLS] -> pre-norm Transformer blocks -> head on [CLS].

    Args:
        n_num: number of numeric input columns (may be 0).
        cat_cardinalities: number of levels of each categorical column (may be empty).
        n_out: output width (number of classes, or 1 for regression).
        d_token: token width; must be divisible by ``n_heads``.
        n_layers: number of Transformer blocks.
        n_heads: attention heads per block.
        attention_dropout: dropout on the attention weights.
        ffn_factor: feed-forward hidden width as a multiple of ``d_token``.
        ffn_dropout: dropout inside the feed-forward network.
        residual_dropout: dropout on each residual branch.
    """

    def __init__(
        self,
        n_num: int,
        cat_cardinalities: list[int],
        n_out: int,
        d_token: int = 64,
        n_layers: int = 3,
        n_heads: int = 8,
        attention_dropout: float = 0.2,
        ffn_factor: float = 4 / 3,
        ffn_dropout: float = 0.1,
        residual_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if n_num + len(cat_cardinalities) == 0:
            raise ValueError("FTTransformer needs at least one numeric or categorical input")
        self.tokenizer = FeatureTokenizer(n_num, cat_cardinalities, d_token)
        self.cls_token = nn.Parameter(torch.empty(d_token))
        nn.init.uniform_(self.cls_token, -1 / math.sqrt(d_token), 1 / math.sqrt(d_token))
        self.blocks = nn.Sequential(
            *(
                Block(
                    d_token,
                    n_heads,
                    attention_dropout,
                    int(ffn_factor * d_token),
                    ffn_dropout,
                    residual_dropout,
                    attention_norm=i > 0,
                )
                for i in range(n_layers)
            )
        )
        self.head = nn.Sequential(nn.LayerNorm(d_token), nn.ReLU(), nn.Linear(d_token, n_out))

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        tokens = self.tokenizer(x_num, x_cat)
        cls = self.cls_token.expand(tokens.shape[0], 1, -1)
        x = self.blocks(torch.cat([tokens, cls], dim=1))
        return self.head(x[:, -1])
