"""The search spaces the candidates declare, built from a few shared shapes.

A model family is tuned over the same ranges whatever the modality it serves (a linear SVM's
C on pixels, on HOG or on TF-IDF), so the ranges are written once here and each candidate
passes only its own defaults. Ranges follow common practice (scikit-learn's and LightGBM's
tuning guides, Optuna's examples); every grid holds the default, so ``--search grid`` tries it.
"""

from __future__ import annotations

from nnvsml.models.space import Choice, Float, Int


def _around(default: float, factors=(0.1, 1.0, 10.0)) -> tuple[float, ...]:
    return tuple(sorted({float(default * f) for f in factors}))


def inverse_regularisation(C: float = 1.0) -> dict:
    """``C`` of logistic regression and SVMs: 10^-3..10^3, grid a decade either side."""
    return {"C": Float(1e-3, 1e3, default=C, log=True, grid=_around(C))}


def ridge(alpha: float = 1.0) -> dict:
    return {"alpha": Float(1e-3, 1e3, default=alpha, log=True, grid=_around(alpha))}


def naive_bayes_smoothing(alpha: float) -> dict:
    """Additive smoothing of multinomial naive Bayes."""
    return {"alpha": Float(1e-3, 1.0, default=alpha, log=True, grid=_around(alpha, (0.1, 1.0, 5.0)))}


def gaussian_nb() -> dict:
    return {"var_smoothing": Float(1e-12, 1e-2, default=1e-9, log=True, grid=(1e-11, 1e-9, 1e-6))}


def neighbours(k: int) -> dict:
    return {"n_neighbors": Int(1, 100, default=k, log=True, grid=tuple(sorted({1, k, 3 * k}))),
            "weights": Choice(("uniform", "distance"), default="distance",
                              grid=("uniform", "distance"))}


def tree(min_samples_leaf: int = 5) -> dict:
    return {"min_samples_leaf": Int(1, 100, default=min_samples_leaf, log=True,
                                    grid=tuple(sorted({1, min_samples_leaf, 20}))),
            "max_depth": Choice((None, 4, 8, 16), default=None, grid=(None, 8))}


def forest(min_samples_leaf: int = 1) -> dict:
    """``max_features`` "default" is the task's rule of thumb (sqrt(p) to classify, p/3 to
    regress); the other choices are fractions of the features."""
    return {"min_samples_leaf": Int(1, 20, default=min_samples_leaf, log=True,
                                    grid=tuple(sorted({1, min_samples_leaf, 5}))),
            "max_features": Choice(("default", 0.1, 0.3, 0.5, 1.0), default="default",
                                   grid=("default", 0.5))}


def lightgbm(learning_rate: float = 0.05, num_leaves: int = 31, min_child_samples: int = 20,
             colsample_bytree: float = 1.0) -> dict:
    """LightGBM's guide: leaves, rows per leaf and learning rate first, then feature sampling.
    The grid covers learning rate x leaves; the rest stay at their defaults there."""
    return {
        "learning_rate": Float(0.01, 0.3, default=learning_rate, log=True,
                               grid=_around(learning_rate, (0.5, 1.0, 2.0))),
        "num_leaves": Int(4, 256, default=num_leaves, log=True,
                          grid=tuple(sorted({max(4, num_leaves // 2), num_leaves, num_leaves * 2}))),
        "min_child_samples": Int(2, 100, default=min_child_samples, log=True),
        "colsample_bytree": Float(0.2, 1.0, default=colsample_bytree),
        "reg_lambda": Float(1e-3, 10.0, default=1e-3, log=True),
    }


def network(lr: float = 1e-3, weight_decay: float = 1e-4, dropout: float | None = None) -> dict:
    """AdamW's learning rate and weight decay, and dropout where the architecture has one: the
    three hyperparameters tuning studies of tabular and vision networks find matter most."""
    space = {
        "lr": Float(1e-5, 1e-2, default=lr, log=True, grid=_around(lr, (1 / 3, 1.0, 3.0))),
        "weight_decay": Float(1e-6, 1e-1, default=weight_decay, log=True,
                              grid=_around(weight_decay, (1.0, 10.0))),
    }
    if dropout is not None:
        space["dropout"] = Float(0.0, 0.6, default=dropout)
    return space
