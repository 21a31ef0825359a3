"""Semi-supervised candidates for tables: they learn from the labelled rows and from the rows
whose target is missing (``--unlabeled use``), each beside its supervised twin, the same model
trained on the labelled rows alone, so that the results say what the unlabelled rows bought.

The worker fits them on the training rows followed by every unlabelled row, whose target is
``UNLABELLED`` (never a test row: the split is made on the labelled rows only).
:class:`SemiSupervisedPipeline` fits the preprocessing on the labelled rows only (a target
encoder must not learn from rows without a target), then gives the final step every row with the
classes as codes and ``-1`` for the unlabelled ones (scikit-learn's convention).

* ``self_training_logistic``, ``self_training_lightgbm``: self-training (Yarowsky, 1995;
  :class:`SelfTraining`): fit on the labelled rows, label the unlabelled rows it is at least
  ``threshold`` sure of, fit again, for a few rounds.
* ``label_spreading``: labels spread over the k-nearest-neighbour graph of all the rows (Zhou et
  al., 2004) with scikit-learn's ``LabelSpreading``; a k-NN kernel, never the dense RBF one,
  whose n x n matrix outgrows memory above a few thousand rows.
* ``self_training_mlp`` (neural): the same rounds around the table network: pseudo-labelling
  with a confidence threshold (Lee, 2013), the network retrained each round within its time.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.semi_supervised import LabelSpreading

from nnvsml.models import spaces
from nnvsml.models.preprocessing import encoder
from nnvsml.models.registry import BuildContext, Candidate, register
from nnvsml.models.space import Float, Int
from nnvsml.models.time_bounded import TimeBounded

#: The target of an unlabelled row, as the worker passes it.
UNLABELLED = None
CLASSIFICATION = frozenset({"binary", "multiclass"})
#: Self-training rounds: each is a fit of the base model, so a time-bounded base gets its time
#: divided among them (and the first fit).
ROUNDS = 3
THRESHOLD = {"threshold": Float(0.6, 0.99, default=0.9, grid=(0.9, 0.97))}


class SemiSupervisedPipeline(Pipeline):
    """A Pipeline whose targets may be ``UNLABELLED``: the steps before the last are fitted on
    the labelled rows only; the last step gets every row, the classes as codes (their sorted
    order) and ``-1`` where there is no label. ``predict`` returns the classes themselves."""

    def fit(self, X, y=None, **params):
        y = np.asarray(y, dtype=object)
        labelled = np.array([not _missing(v) for v in y])
        if not labelled.any():
            raise ValueError("no labelled row to learn from")
        self.labels_ = np.array(sorted(set(y[labelled].tolist())), dtype=object)
        codes = np.full(len(y), -1, dtype=np.int64)
        codes[labelled] = np.searchsorted(self.labels_, y[labelled])
        self.n_unlabelled_ = int((~labelled).sum())
        front = Pipeline(self.steps[:-1]) if len(self.steps) > 1 else None
        if front is not None:
            front.fit(_rows(X, labelled), codes[labelled])
            X = front.transform(X)
        self.steps[-1][1].fit(X, codes)
        return self

    @property
    def classes_(self):
        return self.labels_

    def predict(self, X, **params):
        return self.labels_[np.asarray(super().predict(X, **params), dtype=np.int64)]


class SelfTraining(ClassifierMixin, BaseEstimator):
    """Self-training around ``estimator``: targets are class codes, ``-1`` for unlabelled rows.
    Each round fits a fresh clone on the labelled rows and the ones labelled so far, then
    labels the unlabelled rows whose highest probability is at least ``threshold``; it stops
    after ``max_iter`` rounds or when no row is added, and fits once more on what it has.

    scikit-learn's ``SelfTrainingClassifier`` runs the same loop, but turns a table into a
    bare array first: the network would lose the column names that mark its categories.
    """

    def __init__(self, estimator, threshold: float = 0.9, max_iter: int = ROUNDS):
        self.estimator, self.threshold, self.max_iter = estimator, threshold, max_iter

    def fit(self, X, y):
        y = np.asarray(y, dtype=np.int64).copy()
        labelled = y != -1
        self.labeled_iter_ = np.where(labelled, 0, -1)
        self.termination_condition_ = "max_iter"
        self.n_iter_ = 0
        while self.n_iter_ < self.max_iter and not labelled.all():
            model = clone(self.estimator).fit(_rows(X, labelled), y[labelled])
            self.n_iter_ += 1
            proba = model.predict_proba(_rows(X, ~labelled))
            sure = proba.max(axis=1) >= self.threshold
            if not sure.any():
                self.termination_condition_ = "no_change"
                break
            rows = np.flatnonzero(~labelled)[sure]
            y[rows] = np.asarray(model.classes_)[proba[sure].argmax(axis=1)]
            labelled[rows] = True
            self.labeled_iter_[rows] = self.n_iter_
        else:
            if labelled.all():
                self.termination_condition_ = "all_labeled"
        self.estimator_ = clone(self.estimator).fit(_rows(X, labelled), y[labelled])
        self.classes_ = self.estimator_.classes_
        self.transduction_ = y
        return self

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    def predict(self, X):
        return self.estimator_.predict(X)


def _missing(value) -> bool:
    return value is UNLABELLED or (isinstance(value, float) and np.isnan(value))


def _rows(X, mask):
    return X.loc[mask] if hasattr(X, "loc") else X[mask]


def _pipeline(style: str, ctx: BuildContext, model) -> SemiSupervisedPipeline:
    return SemiSupervisedPipeline(encoder(style, ctx.kinds, task=ctx.task, seed=ctx.seed).steps
                                  + [("model", model)])


def _share(ctx: BuildContext) -> float | None:
    """A self-training base model's time for one of its fits."""
    return None if ctx.max_time is None else ctx.max_time / (ROUNDS + 1)


LOGISTIC_SPACE = {**spaces.inverse_regularisation(C=1.0), **THRESHOLD}
LIGHTGBM_SPACE = {**spaces.lightgbm(learning_rate=0.05, num_leaves=31), **THRESHOLD}
SPREADING_SPACE = {"n_neighbors": Int(3, 30, default=10, grid=(5, 10)),
                   "alpha": Float(0.05, 0.9, default=0.2, grid=(0.2, 0.5))}
MLP_SPACE = {**spaces.network(lr=1e-3, weight_decay=1e-4, dropout=0.1),
             "threshold": Float(0.6, 0.99, default=0.95, grid=(0.9, 0.95))}


def build_self_training_logistic(ctx: BuildContext):
    hp = ctx.hyper(LOGISTIC_SPACE)
    threshold = hp.pop("threshold")
    return _pipeline("linear", ctx, SelfTraining(
        LogisticRegression(**hp, max_iter=2_000), threshold=threshold, max_iter=ROUNDS))


def build_self_training_lightgbm(ctx: BuildContext):
    from lightgbm import LGBMClassifier

    hp = ctx.hyper(LIGHTGBM_SPACE)
    threshold = hp.pop("threshold")
    booster = LGBMClassifier(n_estimators=400, **hp, n_jobs=ctx.n_jobs, random_state=ctx.seed,
                             verbose=-1)
    return _pipeline("lightgbm", ctx, SelfTraining(
        TimeBounded(booster, max_time=_share(ctx)), threshold=threshold, max_iter=ROUNDS))


def build_label_spreading(ctx: BuildContext):
    hp = ctx.hyper(SPREADING_SPACE)
    return _pipeline("linear", ctx, LabelSpreading(kernel="knn", n_neighbors=hp["n_neighbors"],
                                                   alpha=hp["alpha"], max_iter=100,
                                                   n_jobs=ctx.n_jobs))


def build_self_training_mlp(ctx: BuildContext):
    from nnvsml.models.neural import TabularNetClassifier

    hp = ctx.hyper(MLP_SPACE)
    threshold = hp.pop("threshold")
    net = TabularNetClassifier(max_time=_share(ctx), random_state=ctx.seed, arch="mlp",
                               arch_params={"dropout": hp.pop("dropout")}, **hp)
    return _pipeline("neural", ctx, SelfTraining(net, threshold=threshold,
                                                           max_iter=ROUNDS))


def _register(name: str, family: str, build, twin: str, description: str, space: dict,
              **extra) -> None:
    register(Candidate(name, family, CLASSIFICATION, build,
                       f"{description}; with --unlabeled use, beside its twin {twin}",
                       space=space, unlabelled=True, twin=twin, **extra))


_register("self_training_logistic", "traditional", build_self_training_logistic,
          "logistic_regression", "self-training around logistic regression: rows it is sure "
          "of are labelled and it is fitted again (3 rounds)", LOGISTIC_SPACE)
_register("self_training_lightgbm", "traditional", build_self_training_lightgbm, "lightgbm",
          "self-training around LightGBM (3 rounds, each fit a quarter of its time)",
          LIGHTGBM_SPACE, preprocessing="lightgbm", time_aware=True)
_register("label_spreading", "traditional", build_label_spreading, "knn",
          "label spreading over the k-nearest-neighbour graph of every row", SPREADING_SPACE)
_register("self_training_mlp", "neural", build_self_training_mlp, "mlp",
          "pseudo-labelling around the table network: rows it is sure of are labelled and it "
          "is trained again (3 rounds, each a quarter of its time)", MLP_SPACE,
          preprocessing="neural", time_aware=True)
