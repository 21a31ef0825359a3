"""Candidates that misbehave on purpose, to prove that one bad model cannot sink a run.

They live in a module (not inside a test function) because a candidate's ``build`` travels to its
isolated process by reference and must be importable there.
"""

from __future__ import annotations

import ctypes
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from nnvsml.models import Candidate

TASKS = frozenset({"binary", "multiclass", "regression"})


class Misbehaving(ClassifierMixin, BaseEstimator):
    def __init__(self, how: str = "crash"):
        self.how = how

    def fit(self, X, y):
        if self.how == "crash":
            raise RuntimeError("boom: this model always fails")
        if self.how == "hang":
            time.sleep(3600)
        if self.how == "memory":
            hog = []
            while True:  # grows until the parent's memory limit stops it
                hog.append(np.ones(25 * 2**20 // 8))
                time.sleep(0.01)
        if self.how == "segfault":
            ctypes.string_at(0)
        return self


def build_crash(ctx):
    return Misbehaving("crash")


def build_hang(ctx):
    return Misbehaving("hang")


def build_memory(ctx):
    return Misbehaving("memory")


def build_segfault(ctx):
    return Misbehaving("segfault")


CRASH = Candidate("crash", "traditional", TASKS, build_crash, "raises in fit")
HANG = Candidate("hang", "traditional", TASKS, build_hang, "never returns from fit")
MEMORY = Candidate("memory_hog", "neural", TASKS, build_memory, "allocates without end")
SEGFAULT = Candidate("segfault", "neural", TASKS, build_segfault, "crashes the interpreter")


class SmallDataHang(ClassifierMixin, BaseEstimator):
    """A logistic regression that never returns on fewer than 150 rows, and takes no missing
    values: the comparison (300+ complete rows) is fine, the learning curve's small sizes and
    the missing-values damage are not."""

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression

        if len(y) < 150:
            time.sleep(3600)
        self.model_ = LogisticRegression(max_iter=500).fit(np.asarray(X), y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(np.asarray(X))

    def predict_proba(self, X):
        return self.model_.predict_proba(np.asarray(X))


def build_small_data_hang(ctx):
    return SmallDataHang()


SMALL_DATA_HANG = Candidate("small_data_hang", "traditional", TASKS, build_small_data_hang,
                            "hangs below 150 training rows, fails on missing values")
