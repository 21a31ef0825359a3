"""A multilayer perceptron for tabular data, with learned embeddings for categorical columns.

Each categorical column gets its own ``nn.Embedding``; its width grows sub-linearly with the
number of levels (the rule popularised by fastai's tabular learner, Howard & Gugger, 2020,
"Fastai: A Layered API for Deep Learning"). The embeddings are concatenated with the numeric
inputs and fed through blocks of Linear -> normalization -> ReLU -> Dropout, then a linear head.
A well-regularised MLP of this shape is a strong neural baseline on tabular data (Gorishniy et
al., 2021, "Revisiting Deep Learning Models for Tabular Data"; Kadra et al., 2021, "Well-tuned
Simple Nets Excel on Tabular Datasets").

Shapes: ``x_num`` is ``[B, n_num]`` float, ``x_cat`` is ``[B, n_cat]`` long (codes in
``[0, cardinality)``), the output is ``[B, n_out]`` (logits, or raw values for regression).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

NORMS: dict[str, type[nn.Module]] = {"batchnorm": nn.BatchNorm1d, "layernorm": nn.LayerNorm}


def embedding_dim(cardinality: int) -> int:
    """Width of a categorical embedding: grows like cardinality**0.56, capped at 32."""
    return min(32, round(1.6 * cardinality**0.56))


class MLP(nn.Module):
    """Categorical embeddings + numeric inputs -> [Linear -> Norm -> ReLU -> Dropout] x N -> Linear.

    Args:
        n_num: number of numeric input columns (may be 0).
        cat_cardinalities: number of levels of each categorical column (may be empty).
        n_out: output width (number of classes, or 1 for regression).
        hidden_sizes: width of each hidden block.
        dropout: dropout after each hidden block.
        norm: ``"batchnorm"`` or ``"layernorm"``.
        embedding_dropout: dropout on the categorical embeddings.
    """

    def __init__(
        self,
        n_num: int,
        cat_cardinalities: list[int],
        n_out: int,
        hidden_sizes: Sequence[int] = (256, 256),
        dropout: float = 0.1,
        norm: str = "batchnorm",
        embedding_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {sorted(NORMS)}, got {norm!r}")
        if n_num + len(cat_cardinalities) == 0:
            raise ValueError("MLP needs at least one numeric or categorical input")
        self.embeddings = nn.ModuleList(
            nn.Embedding(c, embedding_dim(c)) for c in cat_cardinalities
        )
        self.embedding_dropout = nn.Dropout(embedding_dropout)

        d_in = n_num + sum(e.embedding_dim for e in self.embeddings)
        layers: list[nn.Module] = []
        for d_hidden in hidden_sizes:
            layers += [
                nn.Linear(d_in, d_hidden),
                NORMS[norm](d_hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
            ]
            d_in = d_hidden
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(d_in, n_out)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        embedded = [
            self.embedding_dropout(emb(x_cat[:, j])) for j, emb in enumerate(self.embeddings)
        ]
        x = torch.cat([x_num, *embedded], dim=1)
        return self.head(self.blocks(x))
