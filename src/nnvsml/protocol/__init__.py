"""The fair protocol: one split, one set of folds, one budget rule, isolated candidates."""

from nnvsml.protocol.budget import Budget, EqualPerFamily, EqualTrials
from nnvsml.protocol.splits import Protocol, make_protocol

__all__ = ["Budget", "EqualPerFamily", "EqualTrials", "Protocol", "make_protocol"]
