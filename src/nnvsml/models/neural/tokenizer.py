"""Turns raw documents into fixed-length rows of token ids for the text networks.

A scikit-learn transformer, so it lives inside the candidate's Pipeline and is fitted on the
training documents of each split only: a word that appears only in test documents maps to the
unknown id, exactly as it would for a model deployed on new text. Deliberately simple (word and
punctuation tokens, lowercased, vocabulary by frequency) so that the neural models and the
traditional bag-of-words models see the same words.

Ids: 0 = padding, 1 = unknown, then the vocabulary from most to least frequent (ties in
alphabetical order, so ids are deterministic). Rows are truncated to ``max_length_`` tokens or
padded with 0 at the end.

>>> tok = Tokenizer(max_length=6).fit(["the cat sat", "the dog sat!"])
>>> tok.vocabulary_
{'sat': 2, 'the': 3, '!': 4, 'cat': 5, 'dog': 6}
>>> tok.transform(["The cat ran."]).tolist()  # "ran" and "." were never seen: unknown (1)
[[3, 5, 1, 1, 0, 0]]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ...errors import InputError

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
PAD, UNKNOWN = 0, 1


class Tokenizer(TransformerMixin, BaseEstimator):
    """Documents -> int64 ``[n, max_length_]`` token ids (0 = padding at the end, 1 = unknown).

    Args:
        max_vocab: keep at most this many distinct tokens (the most frequent ones).
        min_count: drop tokens seen fewer times than this in the training documents.
        max_length: tokens kept per document; None picks the 95th percentile of the training
            documents' token counts, clipped to [8, 256], so a few very long documents do not make
            every row (and every training step) long.
        lowercase: lowercase before tokenizing.

    Attributes:
        vocabulary_: token -> id (ids from 2).
        vocab_size_: ``len(vocabulary_) + 2``, the embedding table size the networks need.
        max_length_: the row length produced by ``transform``.
    """

    def __init__(
        self,
        max_vocab: int = 20000,
        min_count: int = 1,
        max_length: int | None = None,
        lowercase: bool = True,
    ) -> None:
        self.max_vocab = max_vocab
        self.min_count = min_count
        self.max_length = max_length
        self.lowercase = lowercase

    def _tokens(self, document: object) -> list[str]:
        # Missing text (None / NaN from a CSV) is an empty document, not the word "nan".
        if document is None or (isinstance(document, float) and np.isnan(document)):
            return []
        text = str(document)
        return TOKEN_PATTERN.findall(text.lower() if self.lowercase else text)

    @staticmethod
    def _documents(X: Iterable[object]) -> np.ndarray:
        documents = np.asarray(X, dtype=object)
        if documents.ndim == 2 and documents.shape[1] == 1:
            documents = documents[:, 0]
        if documents.ndim != 1:
            raise InputError(
                f"text input must be one document per row (1-D), got shape {documents.shape}; "
                "pass a single text column"
            )
        return documents

    def fit(self, X: Iterable[object], y: object = None) -> Tokenizer:
        """Learn the vocabulary and the row length from these documents only."""
        if self.max_length is not None and self.max_length < 1:
            raise InputError(f"max_length must be at least 1, got {self.max_length}")
        tokenized = [self._tokens(doc) for doc in self._documents(X)]
        if not tokenized:
            raise InputError("cannot fit a tokenizer on zero documents; pass at least one")
        counts = Counter(token for tokens in tokenized for token in tokens)
        kept = sorted(
            (item for item in counts.items() if item[1] >= self.min_count),
            key=_frequency_then_alphabet,
        )[: self.max_vocab]
        self.vocabulary_ = {token: i + 2 for i, (token, _) in enumerate(kept)}
        self.vocab_size_ = len(self.vocabulary_) + 2
        if self.max_length is None:
            p95 = float(np.percentile([len(tokens) for tokens in tokenized], 95))
            self.max_length_ = int(min(256, max(8, np.ceil(p95))))
        else:
            self.max_length_ = int(self.max_length)
        return self

    def transform(self, X: Iterable[object]) -> np.ndarray:
        """Token ids, int64 ``[n, max_length_]``, truncated or 0-padded at the end."""
        check_is_fitted(self, "vocabulary_")
        documents = self._documents(X)
        ids = np.full((len(documents), self.max_length_), PAD, dtype=np.int64)
        for row, doc in enumerate(documents):
            tokens = self._tokens(doc)[: self.max_length_]
            ids[row, : len(tokens)] = [self.vocabulary_.get(t, UNKNOWN) for t in tokens]
        return ids


def _frequency_then_alphabet(item: tuple[str, int]) -> tuple[int, str]:
    """Sort key: most frequent first, ties alphabetical (a named function keeps pickling simple)."""
    token, count = item
    return -count, token
