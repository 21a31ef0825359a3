"""What an unsupervised model outputs for some rows, in one pass through its features."""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline


def outputs(est, task: str, X) -> tuple[np.ndarray, np.ndarray | None]:
    """``(cluster ids, None)`` for a clustering; ``(flags, anomaly scores)`` for a detector
    (1: flagged; scores: higher is more anomalous). ``est``: a fitted model of the contract
    of :mod:`nnvsml.models.unsupervised`, alone or as a Pipeline's last step."""
    if isinstance(est, Pipeline) and len(est.steps) > 1:
        Z, final = est[:-1].transform(X), est.steps[-1][1]
    else:
        Z, final = X, est[-1] if isinstance(est, Pipeline) else est
    pred = np.asarray(final.predict(Z)).astype(int)
    return pred, (np.asarray(final.anomaly_score(Z), dtype=float) if task == "anomaly" else None)
