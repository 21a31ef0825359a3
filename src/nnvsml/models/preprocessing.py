"""Feature encoding per model family, composed as scikit-learn Pipelines.

Each model gets the encoding it needs, and nothing it does not:

* ``linear`` (logistic/ridge, SVM, kNN, naive Bayes): median imputation with missing-value
  indicators, standard scaling, one-hot for low-cardinality categories and target encoding for
  high-cardinality ones (never a one-hot explosion).
* ``tree`` (decision tree, random forest): missing values kept as NaN (scikit-learn's trees route
  them natively), categories as ordinal codes.
* ``lightgbm``: NaN and pandas categories, both handled natively by LightGBM.
* ``neural``: quantile-normalised numbers with missing indicators, and integer category codes
  (0 = missing or unseen) that the networks turn into learned embeddings.

Every pipeline starts with :class:`~nnvsml.data.TabularPreparer`, so a saved model takes the
user's raw table; infinities reach the encoders as missing values, and every style's numbers go
through :class:`PowerOfTwoScale`, which leaves ordinary columns alone and brings huge ones
(beyond 1e30) into range without rounding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    StandardScaler,
    TargetEncoder,
)

from nnvsml.data import TabularPreparer, prepared_kinds
from nnvsml.data.columns import HUGE_MAGNITUDE

STYLES = ("linear", "tree", "lightgbm", "neural")
#: What each style does to a table, in words (the report and the verdict's key differences).
STYLE_TEXT = {
    "linear": "hand-designed encoding: median imputation with missing indicators, scaling, "
              "one-hot / target-encoded categories",
    "tree": "ordinal category codes, missing values left to the trees",
    "lightgbm": "none: native missing values and categories",
    "neural": "quantile-normalised numbers, learned embeddings of the categories",
}


class PowerOfTwoScale(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Divides each column holding numbers beyond :data:`HUGE_MAGNITUDE` by the power of two
    that brings its largest magnitude to at most 1; other columns pass unchanged.

    Values near 1e308 overflow a scaler's variance and float32 (trees, networks) alike. A power
    of two only shifts the exponent, so the division is exact and keeps every value's order:
    trees split the same, and standardisation gives the same result as without it.
    """

    def fit(self, X, y=None):
        values = np.asarray(X, dtype=np.float64)
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = values.shape[1]
        finite = np.where(np.isfinite(values), np.abs(values), 0.0)
        largest = finite.max(axis=0, initial=0.0)
        _, exponent = np.frexp(largest)  # largest = m * 2**exponent with 0.5 <= m < 1
        self.exponent_ = np.where(largest > HUGE_MAGNITUDE, exponent, 0)
        return self

    def transform(self, X):
        return np.ldexp(np.asarray(X, dtype=np.float64), -self.exponent_)


class CategoryCodes(TransformerMixin, BaseEstimator):
    """Categories to integer codes ``1..K`` learned in ``fit``; 0 is missing or unseen.

    Reserving 0 lets an embedding table keep one row for "don't know" instead of failing on a
    category that the training rows never showed.
    """

    def fit(self, X, y=None):
        X = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        # Plain lists, not pandas objects: the model's safe file (skops) holds data only.
        self.categories_ = [list(pd.unique(X[c].dropna())) for c in X.columns]
        return self

    def transform(self, X):
        X = pd.DataFrame(X)
        codes = {c: pd.Index(cats, dtype=object).get_indexer(X[c]) + 1
                 for c, cats in zip(X.columns, self.categories_)}
        return pd.DataFrame(codes, index=X.index).astype(np.int64)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_in_, dtype=object)


class CategoryDtype(TransformerMixin, BaseEstimator):
    """Cast to pandas ``category`` with the training levels, for LightGBM's native handling."""

    def fit(self, X, y=None):
        X = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        # The levels as plain lists (the model's safe file, skops, holds data only).
        self.levels_ = {c: list(pd.unique(X[c].dropna())) for c in X.columns}
        return self

    def transform(self, X):
        X = pd.DataFrame(X)
        # A level unseen in training is missing (said before casting: pandas will refuse it).
        return pd.DataFrame({c: X[c].where(X[c].isin(self.levels_[c]) | X[c].isna())
                             .astype(pd.CategoricalDtype(self.levels_[c])) for c in X.columns},
                            index=X.index)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_in_, dtype=object)


#: Tasks with a target that target encoding can learn from.
TARGET_TASKS = ("binary", "multiclass", "regression")
#: Levels of a high-cardinality column one-hot encoded when there is no target (the rest: one).
HIGH_LEVELS_KEPT = 20


def encoder(style: str, kinds: dict[str, str], *, task: str, seed: int = 0) -> Pipeline:
    """The preprocessing pipeline of one family style, for raw columns of the given kinds."""
    if style not in STYLES:
        raise ValueError(f"unknown preprocessing style {style!r}; expected one of {STYLES}")
    out = prepared_kinds(kinds)
    num = [c for c, k in out.items() if k == "numeric"]
    cat = [c for c, k in out.items() if k == "categorical"]
    high = [c for c, k in out.items() if k == "high_cardinality"]

    parts: list[tuple[str, object, list[str]]] = []
    if style == "linear":
        parts += [
            ("num", _pipe(PowerOfTwoScale(), SimpleImputer(strategy="median", add_indicator=True),
                          StandardScaler()), num),
            ("cat", _pipe(_fill_missing(), OneHotEncoder(handle_unknown="ignore", sparse_output=False)), cat),
            ("high", _pipe(TargetEncoder(target_type=_target_type(task), cv=_folds(task, seed)),
                           StandardScaler()), high) if task in TARGET_TASKS else
            # No target to encode against: the most frequent levels one-hot, the rest as one.
            ("high", _pipe(_fill_missing(), OneHotEncoder(
                handle_unknown="infrequent_if_exist", max_categories=HIGH_LEVELS_KEPT,
                sparse_output=False)), high),
        ]
    elif style == "tree":
        parts += [
            ("num", PowerOfTwoScale(), num),
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                   encoded_missing_value=-1), cat + high),
        ]
    elif style == "lightgbm":
        # High-cardinality levels go in as ordinal numbers: LightGBM's categorical splits overfit
        # on hundreds of levels.
        parts += [
            ("num", PowerOfTwoScale(), num),
            ("cat", CategoryDtype(), cat),
            ("high", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                    encoded_missing_value=np.nan), high),
        ]
    else:  # neural
        parts += [
            ("num", _pipe(PowerOfTwoScale(), SimpleImputer(strategy="median"),
                          QuantileTransformer(output_distribution="normal", random_state=seed)), num),
            ("miss", MissingIndicator(features="missing-only", error_on_new=False), num),
            # The networks find their categorical inputs by this "cat__" prefix.
            ("cat", CategoryCodes(), cat + high),
        ]
    columns = ColumnTransformer([p for p in parts if p[2]], remainder="drop",
                                verbose_feature_names_out=True)
    columns.set_output(transform="pandas")
    return Pipeline([("prepare", TabularPreparer(kinds)), ("encode", columns)])


def _pipe(*steps) -> Pipeline:
    return Pipeline([(type(s).__name__.lower(), s) for s in steps])


def _fill_missing() -> SimpleImputer:
    return SimpleImputer(strategy="constant", fill_value="__missing__")


def _folds(task: str, seed: int):
    """The cross-fitting folds of target encoding, seeded so that runs are reproducible."""
    cls = KFold if task == "regression" else StratifiedKFold
    return cls(n_splits=5, shuffle=True, random_state=seed)


def _target_type(task: str) -> str:
    return {"regression": "continuous", "binary": "binary"}.get(task, "multiclass")
