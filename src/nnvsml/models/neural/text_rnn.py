"""A recurrent network for text classification: embeddings -> (bi)LSTM or GRU -> final states.

Long short-term memory (Hochreiter & Schmidhuber, 1997, "Long Short-Term Memory") or the gated
recurrent unit (Cho et al., 2014, "Learning Phrase Representations using RNN Encoder-Decoder"),
read in both directions (Schuster & Paliwal, 1997, "Bidirectional Recurrent Neural Networks").
The text is summarised by the last layer's final hidden state in each direction, concatenated:
the forward state has read the whole text, the backward state has read it from the end.

Padding is skipped, not read: the batch is packed by length (``pack_padded_sequence``), so the
forward direction stops at the last real token and the backward direction starts there, and the
output for a text does not depend on how much padding follows it. An empty text is given length
1, i.e. the network reads one padding token, which keeps its output finite and constant.

Shapes: input ``[B, L]`` int64 token ids (0 = padding at the end, 1 = unknown word), output
``[B, n_out]`` logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .masking import token_mask

CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU}


def final_states(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Run ``rnn`` over ``x [B, T, D]`` packed by ``lengths`` (>= 1); return ``[B, H * dirs]``.

    Shared with :mod:`~nnvsml.models.neural.seq_rnn`: the last layer's final hidden state of each
    direction, concatenated.
    """
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, hidden = rnn(packed)
    if isinstance(hidden, tuple):  # LSTM returns (h_n, c_n)
        hidden = hidden[0]
    directions = 2 if rnn.bidirectional else 1
    # h_n is [num_layers * directions, B, H] and already in the input batch order.
    return torch.cat(list(hidden[-directions:]), dim=1)


class TextRNN(nn.Module):
    """Embedding -> packed (bi)LSTM/GRU -> final hidden states -> dropout -> Linear.

    Args:
        vocab_size: number of token ids, padding (0) and unknown (1) included.
        input_shape: ``(max_length,)``; any length works at run time.
        n_out: number of classes.
        embed_dim: width of the word embeddings (learned from scratch).
        hidden_size: hidden units per direction.
        cell: ``"lstm"`` or ``"gru"``.
        bidirectional: also read the text backwards.
        num_layers: stacked recurrent layers.
        dropout: dropout on the embeddings, between stacked layers and before the head.

    >>> model = TextRNN(vocab_size=100, input_shape=(20,), n_out=3)
    >>> model(torch.randint(0, 100, (4, 20))).shape
    torch.Size([4, 3])
    """

    def __init__(
        self,
        vocab_size: int,
        input_shape: tuple[int, ...],
        n_out: int,
        embed_dim: int = 64,
        hidden_size: int = 64,
        cell: str = "lstm",
        bidirectional: bool = True,
        num_layers: int = 1,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if len(input_shape) != 1:
            raise ValueError(f"TextRNN expects input_shape (max_length,), got {input_shape}")
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = CELLS[cell](
            embed_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            # torch applies this dropout only between layers (and warns when there is one layer).
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), n_out)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _, lengths = token_mask(ids)
        x = self.dropout(self.embedding(ids))
        h = final_states(self.rnn, x, lengths.clamp(min=1))
        return self.head(self.dropout(h))
