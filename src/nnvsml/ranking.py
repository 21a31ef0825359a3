"""Ranking finished models by their cross-validated primary metric.

Neutral ground: the verdict, the evidence analyses, the comparison and the report all need "the
best model of a family", and none of them should import another to get it.

Example
-------
>>> models = [
...     {"name": "a", "family": "neural", "status": "ok", "cv": {"rmse": {"mean": 2.0}}},
...     {"name": "b", "family": "neural", "status": "ok", "cv": {"rmse": {"mean": 1.5}}},
...     {"name": "c", "family": "neural", "status": "failed", "cv": {}},
... ]
>>> best_of_family(models, "neural", "rmse")["name"]
'b'
>>> best_of_family(models, "traditional", "rmse") is None
True
"""

from __future__ import annotations

from nnvsml.metrics import GREATER_IS_BETTER

__all__ = ["best_of_family", "cv_mean", "first_fold"]


def best_of_family(models: list[dict], family: str, metric: str) -> dict | None:
    """The finished model of ``family`` with the best cross-validated ``metric`` (ties go to the
    later name), or None when the family has none. When some of them were not cross-validated
    (a short budget gave them their first fit only), all are ranked on the same rows: the
    first fold's validation rows, which every model is scored on."""
    ok = [m for m in models if m["family"] == family and m["status"] == "ok"
          and cv_mean(m, metric) is not None]
    if not ok:
        return None
    sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
    score = cv_mean
    if not all(_cross_validated(m) for m in ok) and all(first_fold(m, metric) is not None
                                                        for m in ok):
        score = first_fold
    return max(ok, key=lambda m: (sign * score(m, metric), m["name"]))


def first_fold(model: dict, metric: str) -> float | None:
    """The mean of ``metric`` over the blocks of the first fold's validation rows."""
    blocks = [b for b in ((model.get("validation_blocks") or {}).get(metric) or [])
              if b is not None]
    return sum(blocks) / len(blocks) if blocks else None


def _cross_validated(model: dict) -> bool:
    return (model.get("evaluation") or {}).get("level", "cross_validated") == "cross_validated"


def cv_mean(model: dict, metric: str) -> float | None:
    """The mean of ``metric`` over the model's CV folds, or None when it was not measured."""
    return ((model.get("cv") or {}).get(metric) or {}).get("mean")
