"""Looking inside a built candidate: the estimator at the end of its pipeline.

Candidates are often :class:`~sklearn.pipeline.Pipeline` objects (preprocessing, then the
model). Tuning, the protocol and the evidence analyses all need the model itself, to set its
callbacks or read what it learned; they ask here rather than each other.

Example
-------
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> final_step(make_pipeline(StandardScaler(), LogisticRegression()))
LogisticRegression()
>>> final_step(LogisticRegression())
LogisticRegression()
"""

from __future__ import annotations

import sys

from sklearn.pipeline import Pipeline

__all__ = ["final_step", "is_network"]


def final_step(est):
    """The last step of a pipeline, or ``est`` itself when it is not one."""
    return est.steps[-1][1] if isinstance(est, Pipeline) else est


def is_network(est) -> bool:
    """Whether ``est`` is one of the networks' estimators (epochs, callbacks, gradient
    clipping), not a network wrapped by another estimator."""
    # A network can only exist once its module is imported: runs without one never import torch.
    base = sys.modules.get("nnvsml.models.neural.base")
    return base is not None and isinstance(est, base.SkorchNet)
